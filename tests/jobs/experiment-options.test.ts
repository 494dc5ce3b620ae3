// scripts/experiment.ts's flags (scripts/experiment/options.ts) and the README table they lead to
// (report.ts): --norm-control sets the profile's normControl and names the setting in the profile, the
// output file and the table header, so a NAS run never lands in the default table; --report's
// `file:methods` selection and the merge of one method's checkpoints across files.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfile } from '../../src-main/engine/edit';
import { EacError } from '../../src-main/engine/errors';
import { packageRoot } from '../../src-main/engine/paths';
import { nasAnchorOf } from '../../src-main/engine/edit/norm-control';
import { applyNormControl, experimentSetup, parseNormAnchor } from '../../scripts/experiment/options';
import { loadReportRuns, mergeRuns, reportTable } from '../../scripts/experiment/report';
import { resultJson, type Checkpoint, type RunResult } from '../../scripts/experiment/run';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-experiment-options-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function usageError(f: () => unknown): EacError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EacError);
    expect((e as EacError).code).toBe('usage');
    return e as EacError;
  }
  throw new Error('expected a usage error');
}

describe('--norm-control', () => {
  it('sets the profile\'s normControl and tags the profile name and the default output file', () => {
    const plain = experimentSetup({ model: 'gpt2-world-a', edits: '500' });
    // the bundled profile's own setting: NAS's anchor on EAC-AlphaEdit only
    expect(plain.profile.normControl).toBe('nas-anchor');
    expect(plain.profile.normControlMethods).toEqual(['eac-alphaedit']);
    expect(plain.profile.name).toBe('gpt2-world-a');
    expect(path.basename(plain.out)).toBe('gpt2-world-a-default-500.json');

    const nas = experimentSetup({ model: 'gpt2-world-a', edits: '500', 'norm-control': 'nas' });
    expect(nas.profile.normControl).toBe('nas');
    expect(nas.profile.normControlMethods).toBeUndefined();
    expect(nas.profile.name).toBe('gpt2-world-a+norm-nas');
    expect(path.basename(nas.out)).toBe('gpt2-world-a-default-norm-nas-500.json');
    // everything else is the bundled profile's
    expect({ ...nas.profile, name: plain.profile.name, normControl: plain.profile.normControl, normControlMethods: plain.profile.normControlMethods }).toEqual(plain.profile);

    const paper = experimentSetup({ model: 'gpt2-world-a', variant: 'paper', 'norm-control': 'nas' });
    expect(paper.profile.name).toBe('gpt2-world-a+paper+norm-nas');
    expect(paper.profile.eac.saliency).toBe('value');
    // the paper's EAC has no norm control, so the variant turns the profile's off; the flag sets it again, for every method
    const paperOwn = experimentSetup({ model: 'gpt2-world-a', variant: 'paper' }).profile;
    expect([paperOwn.normControl, paperOwn.normControlMethods]).toEqual(['off', undefined]);
    expect(paper.profile.normControlMethods).toBeUndefined();
    // --out names the file as given
    expect(experimentSetup({ 'norm-control': 'nas', out: path.join(tmp, 'x.json') }).out).toBe(path.join(tmp, 'x.json'));
  });

  it('repeating the profile\'s own setting changes nothing; an unknown value says what is allowed', () => {
    const base = { ...structuredClone(loadProfile('gpt2-world-a')), normControl: 'off' as const, normControlMethods: undefined };
    expect(applyNormControl(base, 'off')).toBe(base);
    expect(applyNormControl(base, undefined)).toBe(base);
    const nasProfile = { ...structuredClone(base), normControl: 'nas' as const };
    expect(applyNormControl(nasProfile, 'nas')).toBe(nasProfile);
    const off = applyNormControl(nasProfile, 'off');
    expect(off.normControl).toBe('off');
    expect(off.name).toBe('gpt2-world-a+norm-off');
    expect(usageError(() => experimentSetup({ 'norm-control': 'rms' })).message).toBe('--norm-control must be one of off, nas, nas-anchor (got "rms")');
  });

  it('nas-anchor takes the anchor from --norm-anchor, and without one says how to measure it', () => {
    const s = experimentSetup({ model: 'gpt2-world-a', edits: '500', 'norm-control': 'nas-anchor', 'norm-anchor': 'memit=58.4' });
    expect(s.profile.normControl).toBe('nas-anchor');
    expect(s.profile.normAnchor).toEqual({ memit: 58.4 });
    expect(s.profile.name).toBe('gpt2-world-a+norm-nas-anchor');
    expect(path.basename(s.out)).toBe('gpt2-world-a-default-norm-nas-anchor-500.json');
    // gpt2-xl's profile has no anchor; gpt2-world-a's own (58.4) serves the flag, now for every method
    expect(usageError(() => experimentSetup({ profile: 'gpt2-xl', 'norm-control': 'nas-anchor' })).message).toMatch(/needs the anchor norm: --norm-anchor memit=X \(measure X with `npm run nas-anchor/);
    const own = experimentSetup({ model: 'gpt2-world-a', 'norm-control': 'nas-anchor' }).profile;
    expect([own.name, own.normControl, own.normAnchor, own.normControlMethods]).toEqual(['gpt2-world-a+norm-nas-anchor', 'nas-anchor', { memit: 58.4 }, undefined]);
    expect(usageError(() => experimentSetup({ 'norm-control': 'nas', 'norm-anchor': 'memit=3' })).message).toBe('--norm-anchor is only used with --norm-control nas-anchor');
    expect(parseNormAnchor('memit=58.4,rome=40')).toEqual({ memit: 58.4, rome: 40 });
    for (const bad of ['memit=0', 'memit=-1', 'ft=3', 'memit', 'memit=x']) expect(usageError(() => parseNormAnchor(bad)).message).toContain(`"${bad}"`);
  });
});

describe('the experiment script on bad input', () => {
  it('prints a usage error as one line and exits 2 (no stack trace)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(packageRoot(), 'scripts', 'experiment.ts'), '--norm-control', 'rms'], { cwd: packageRoot(), encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('experiment: --norm-control must be one of off, nas, nas-anchor (got "rms")');
  }, 90_000);
});

describe('NAS anchor', () => {
  it('is the mean solved norm with the top 5 % dropped (NAS _upper_trimmed_mean)', () => {
    const norms = Array.from({ length: 40 }, (_, i) => 10 + i);
    // ⌊0.05·40⌋ = 2 largest (48, 49) dropped: mean of 10..47
    expect(nasAnchorOf(norms)).toEqual({ anchor: 28.5, rawMean: 29.5, dropped: 2 });
    // fewer than 20 norms: nothing dropped
    expect(nasAnchorOf([1, 2, 30])).toEqual({ anchor: 11, rawMean: 11, dropped: 0 });
    expect(() => nasAnchorOf([])).toThrow(expect.objectContaining({ code: 'bad_params' }));
    expect(() => nasAnchorOf([1, Number.NaN])).toThrow(/finite norm/);
  });
});

const cp = (edits: number, reliability: number, secondsPerEdit = 1): Checkpoint => ({
  edits,
  immediate: { reliability, generalization: reliability, locality: 1 },
  final: { reliability, generalization: reliability, locality: 1 },
  l1GrowthPct: { L1: edits / 10 },
  health: { qa: 0.9 },
  anchorsMean: null,
  secondsPerEdit,
});

function run(methods: RunResult['methods'], extra: Partial<RunResult> = {}): RunResult {
  return { model: 'gpt2-world-a', profile: 'gpt2-world-a', variant: 'default', batchSize: 1, edits: 500, health0: { qa: 0.9 }, methods, ...extra };
}

describe('the report of NAS runs and of several files', () => {
  it('keeps a norm-controlled run in its own table whose header names the setting', () => {
    const plain = run([{ method: 'eac-alphaedit', skipped: 0, checkpoints: [cp(500, 0.908)], l1Series: [] }]);
    const nas = run([{ method: 'eac-alphaedit', skipped: 0, checkpoints: [cp(500, 0.95)], l1Series: [] }], { profile: 'gpt2-world-a+norm-nas', normControl: 'nas' });
    // a run written before the flag (no normControl field) is the 'off' setting
    const explicitOff = run([{ method: 'alphaedit', skipped: 0, checkpoints: [cp(500, 0.96)], l1Series: [] }], { normControl: 'off' });
    const anchored = run([{ method: 'eac-alphaedit', skipped: 0, checkpoints: [cp(500, 0.93)], l1Series: [] }], { profile: 'gpt2-world-a+norm-nas-anchor', normControl: 'nas-anchor', normAnchor: { memit: 58.4 } });
    const merged = mergeRuns([plain, nas, explicitOff, anchored]);
    expect(merged.map((r) => [r.profile, r.methods.map((m) => m.method)])).toEqual([
      ['gpt2-world-a', ['alphaedit', 'eac-alphaedit']],
      ['gpt2-world-a+norm-nas', ['eac-alphaedit']],
      ['gpt2-world-a+norm-nas-anchor', ['eac-alphaedit']],
    ]);
    const [plainTable, nasTable, anchorTable] = reportTable(merged).split('\n\n**');
    expect(anchorTable).toContain('norm control `nas-anchor` (anchor memit 58.4):');
    expect(anchorTable).toContain('--norm-control nas-anchor --norm-anchor memit=58.4 --edits N');
    expect(plainTable).not.toContain('norm');
    expect(nasTable).toContain('profile `gpt2-world-a+norm-nas`, variant `default`, norm control `nas`:');
    expect(nasTable).toContain('`npm run experiment -- --model gpt2-world-a --variant default --norm-control nas --edits N`');
    expect(nasTable).toContain('| eac-alphaedit | 500 | 0.950 / 0.950 / 1.000 |');
    expect(nasTable).not.toContain('0.908');
  });

  it('puts the rows of norm control the profile scopes to some methods in the profile\'s own table, and refuses files that disagree on it', () => {
    const scopedSetting = { normControl: 'nas-anchor' as const, normAnchor: { memit: 58.4 }, normControlMethods: ['eac-alphaedit' as const] };
    const offRun = run([{ method: 'memit', skipped: 0, checkpoints: [cp(500, 0.46)], l1Series: [] }], { normControl: 'off' });
    const scoped = run([{ method: 'eac-alphaedit', skipped: 0, checkpoints: [cp(500, 0.915)], l1Series: [] }], scopedSetting);
    const flagged = run([{ method: 'eac-alphaedit', skipped: 0, checkpoints: [cp(500, 0.88)], l1Series: [] }], { profile: 'gpt2-world-a+norm-nas-anchor', normControl: 'nas-anchor', normAnchor: { memit: 58.4 } });
    // the scoped run comes second: the table takes its setting all the same
    const merged = mergeRuns([offRun, scoped, flagged]);
    expect(merged.map((r) => [r.profile, r.methods.map((m) => m.method)])).toEqual([
      ['gpt2-world-a', ['memit', 'eac-alphaedit']],
      ['gpt2-world-a+norm-nas-anchor', ['eac-alphaedit']],
    ]);
    const [own, flagTable] = reportTable(merged).split('\n\n**');
    expect(own).toContain("profile `gpt2-world-a`, variant `default`, norm control `nas-anchor` (anchor memit 58.4) on eac-alphaedit (the profile's):");
    // the profile's own setting needs no flag
    expect(own).toContain('`npm run experiment -- --model gpt2-world-a --variant default --edits N`');
    expect(own).toContain('| eac-alphaedit | 500 | 0.915 / 0.915 / 1.000 |');
    expect(own).toContain('| memit | 500 | 0.460 / 0.460 / 1.000 |');
    expect(flagTable).toContain('--norm-control nas-anchor --norm-anchor memit=58.4 --edits N');
    // a run without norm control that holds a row of a method the setting covers was measured with another setting
    const stale = run([{ method: 'eac-alphaedit', skipped: 0, checkpoints: [cp(100, 0.93)], l1Series: [] }]);
    expect(usageError(() => mergeRuns([scoped, stale])).message).toBe('--report: profile "gpt2-world-a" (gpt2-world-a) gives norm control to eac-alphaedit, but a run of it without norm control holds rows of them');
    const otherAnchor = run([{ method: 'eac-alphaedit', skipped: 0, checkpoints: [cp(100, 0.93)], l1Series: [] }], { ...scopedSetting, normAnchor: { memit: 63 } });
    expect(usageError(() => mergeRuns([scoped, otherAnchor])).message).toContain('differ in norm control');
  });

  it('--norm-control acts on every method: it drops the profile\'s normControlMethods, even when it repeats the profile\'s setting', () => {
    const scopedProfile = { ...structuredClone(loadProfile('llama-world-a')), normControl: 'nas' as const, normControlMethods: ['eac-memit' as const] };
    const all = applyNormControl(scopedProfile, 'nas');
    expect(all).not.toBe(scopedProfile);
    expect(all.normControlMethods).toBeUndefined();
    expect(all.name).toBe(`${scopedProfile.name}+norm-nas`);
    expect(applyNormControl(scopedProfile, 'off').normControlMethods).toBeUndefined();
  });

  it('takes the methods a file is named with, and a later file\'s checkpoint over an earlier one of the same method', () => {
    const a = path.join(tmp, 'a.json');
    const b = path.join(tmp, 'b.json');
    fs.writeFileSync(a, JSON.stringify(run([
      { method: 'eac-memit', skipped: 0, checkpoints: [cp(100, 0.5)], l1Series: [] },
      { method: 'memit', skipped: 0, checkpoints: [cp(10, 1, 1.5), cp(100, 0.98, 1.5)], l1Series: [] },
    ])));
    fs.writeFileSync(b, JSON.stringify(run([{ method: 'memit', skipped: 0, checkpoints: [cp(100, 0.98, 4), cp(500, 0.7, 4)], l1Series: [] }])));
    const [res] = mergeRuns(loadReportRuns([`${a}:memit`, b]));
    expect(res.methods.map((m) => m.method)).toEqual(['memit']);
    expect(res.methods[0].checkpoints.map((c) => [c.edits, c.secondsPerEdit])).toEqual([[10, 1.5], [100, 4], [500, 4]]);
    expect(usageError(() => loadReportRuns([`${b}:memit+eac-memit`])).message).toContain('has no eac-memit (it has memit)');
  });
});

describe('the result file', () => {
  it('puts each innermost object on one line and parses back to the same result', () => {
    const result = {
      model: 'gpt2-world-a',
      note: 'a string with { braces } and a\nnewline',
      health0: { 'world-a-qa': 1, 'world-a-nli': 0.48 },
      methods: [{ method: 'memit', checkpoints: [{ edits: 2, immediate: { reliability: 0.5 }, l1GrowthPct: { '1': 3.25 }, anchorsMean: null }], l1Series: [{ edits: 1, layer: 1, pct: 0.73 }, { edits: 2, layer: 1, pct: 1.5 }] }],
    };
    const text = resultJson(result);
    expect(JSON.parse(text)).toEqual(result);
    const lines = text.split('\n').map((l) => l.trim());
    expect(lines).toContain('{"edits":1,"layer":1,"pct":0.73},');
    expect(lines).toContain('{"edits":2,"layer":1,"pct":1.5}');
    expect(lines).toContain('"health0": {"world-a-qa":1,"world-a-nli":0.48},');
    expect(text.length).toBeLessThan(JSON.stringify(result, null, 1).length);
  });

  it('is how every result in experiments/ is stored (the repository\'s size bounds the device transfer)', () => {
    const dir = path.resolve(__dirname, '../../experiments');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else if (e.name.endsWith('.json')) files.push(path.join(d, e.name));
      }
    };
    walk(dir);
    const results = files.filter((f) => 'methods' in JSON.parse(fs.readFileSync(f, 'utf8')));
    expect(results.length).toBeGreaterThan(10);
    for (const f of results) {
      const text = fs.readFileSync(f, 'utf8');
      expect(text, path.relative(dir, f)).toBe(resultJson(JSON.parse(text)));
    }
  });
});
