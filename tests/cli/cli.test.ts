// The `eac` command line through child_process: JSON shapes, --prompt "", exit code 2 on bad input.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, findFixture, fixtureMissingReason, maxAbsDiff, referenceLogitBound } from '../engine/helpers';

const BIN = path.join(REPO, 'bin/eac.mjs');
const gpt2 = findFixture('gpt2-world-a');
const llama = findFixture('llama-world-a');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/eac.mjs ...args` from another working directory (os.tmpdir() by default). */
function eac(args: string[], cwd = os.tmpdir()): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, EAC_DEBUG: '' }, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

/** stderr without the noise native libraries print; the CLI's own message must be one line. */
function ownLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('eac'));
}

describe.skipIf(!gpt2)(`eac CLI${gpt2 ? '' : ` (skipped: ${fixtureMissingReason('gpt2-world-a')})`}`, () => {
  it('generate --json prints one object with ids, new_ids, text', async () => {
    const c = gpt2!.cases[1];
    const r = await eac(['generate', '--model', gpt2!.dir, '--prompt', c.prompt, '--max-new-tokens', '20', '--json', '--ignore-eos']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['ids', 'new_ids', 'text']);
    expect(out.new_ids).toEqual(c.greedy20);
    expect(out.ids).toEqual([...c.ids, ...c.greedy20]);
    expect(typeof out.text).toBe('string');
  });

  it('generate --json reports per-token progress as JSON lines on stderr (numbers, not text)', async () => {
    const c = gpt2!.cases[1];
    const r = await eac(['generate', '--model', gpt2!.dir, '--prompt', c.prompt, '--max-new-tokens', '12', '--json', '--ignore-eos']);
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const gen = lines.filter((l) => l.phase === 'generate');
    expect(lines.every((l) => l.type === 'progress')).toBe(true);
    // the first session build of the process is reported before the tokens
    expect(lines.findIndex((l) => l.phase === 'session')).toBeLessThan(lines.findIndex((l) => l.phase === 'generate' && l.done > 0));
    expect(gen.map((l) => l.done)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const l of gen) {
      expect(l).toMatchObject({ total: 12, unit: 'tokens', fraction: l.done / 12 });
      expect(l.eta_ms === null || (Number.isInteger(l.eta_ms) && l.eta_ms >= 0)).toBe(true);
    }
    expect(gen.at(-1).eta_ms).toBe(0);
    expect(JSON.parse(r.stdout).new_ids).toHaveLength(12);
  });

  it('generate stops at EOS by default; a relative --model resolves against the cwd', async () => {
    const c = gpt2!.cases[0];
    const r = await eac(['generate', '--model', path.basename(gpt2!.dir), '--prompt', c.prompt, '--max-new-tokens', '20', '--json'], path.dirname(gpt2!.dir));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const eos = c.greedy20.indexOf(1023);
    expect(eos).toBeGreaterThan(0);
    expect(out.new_ids).toEqual(c.greedy20.slice(0, eos + 1));
  });

  it('--prompt "" starts from BOS (GPT-2: config bos_token_id)', async () => {
    const r = await eac(['generate', '--model', gpt2!.dir, '--prompt', '', '--max-new-tokens', '3', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ids[0]).toBe(1023);
    expect(out.ids.length).toBe(1 + out.new_ids.length);
  });

  it.skipIf(!llama)(`--prompt "" on LLaMA gives the tokenizer BOS [1]${llama ? '' : ` (skipped: ${fixtureMissingReason('llama-world-a')})`}`, async () => {
    const r = await eac(['generate', '--model', llama!.dir, '--prompt', '', '--max-new-tokens', '3', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ids.slice(0, 1)).toEqual([1]);
    expect(out.new_ids).toHaveLength(3);
    expect(out.ids).toEqual([1, ...out.new_ids]);
  });

  it('logits --json prints ids and last_logits matching the reference', async () => {
    const c = gpt2!.cases[2];
    const r = await eac(['logits', '--model', gpt2!.dir, '--prompt', c.prompt, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['ids', 'last_logits']);
    expect(out.ids).toEqual(c.ids);
    expect(out.last_logits).toHaveLength(1024);
    expect(maxAbsDiff(out.last_logits, c.last_logits)).toBeLessThan(referenceLogitBound(gpt2!, c));
  });

  it('info --json and the human form', async () => {
    const r = await eac(['info', '--model', gpt2!.dir, '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ arch: 'gpt2', tensorCount: info.tensors.length, dtypes: { F32: info.tensors.length } });
    expect(info.parameters).toBeGreaterThan(2e6);
    const h = await eac(['info', '--model', gpt2!.dir]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^architecture +gpt2/m);
    expect(h.stdout).toMatch(/^parameters +\d+/m);
  });

  it('bad input exits 2 with one specific line on stderr and no stack trace', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-cli-bad-'));
    fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": "gpt2", ');
    try {
      const cases: [string[], RegExp][] = [
        [['generate', '--model', '/no/such/folder', '--prompt', 'x', '--json'], /\/no\/such\/folder does not exist/],
        [['info', '--model', dir], /config\.json: not valid JSON/],
        [['generate', '--model', gpt2!.dir, '--prompt', 'x', '--bogus'], /Unknown option '--bogus'/],
        [['generate', '--model', gpt2!.dir, '--prompt'], /--prompt/],
        [['generate', '--model', gpt2!.dir, '--prompt', 'x', '--max-new-tokens', 'many'], /--max-new-tokens must be an integer/],
        [['logits', '--prompt', 'x'], /--model is required/],
        [['frobnicate'], /unknown command "frobnicate"/],
      ];
      const runs = await Promise.all(cases.map(([args]) => eac(args)));
      runs.forEach((r, i) => {
        expect(r.code, cases[i][0].join(' ')).toBe(2);
        expect(r.stdout).toBe('');
        const lines = ownLines(r.stderr);
        expect(lines, r.stderr).toHaveLength(1);
        expect(lines[0]).toMatch(cases[i][1]);
        expect(r.stderr).not.toMatch(/^\s+at /m);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help lists the commands', async () => {
    const r = await eac(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['info', 'generate', 'logits']) expect(r.stdout).toContain(`  ${c}`);
    const g = await eac(['generate', '--help']);
    expect(g.stdout).toContain('bos_token_id');
  });
});
