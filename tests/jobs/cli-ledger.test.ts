// `eac ledger ...` and `eac health ...`, in-process through the CLI's main(); the ledger's safety
// from the command line: read commands write nothing (a foreign file keeps every byte, a missing one
// is not created), a second writer process is refused with exit 1 naming the holder.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src-main/cli/main';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { fastProfile, GPT2, tmpDir, worldEdits, runEac } from './helpers';

const eac = (args: string[]) => runEac(args);

describe('eac ledger / eac health', () => {
  const dir = tmpDir('eac-cli-ledger-');
  const db = path.join(dir, 'ledger.sqlite');
  let ids: number[] = [];
  beforeAll(async () => {
    process.env.EAC_CACHE_DIR = path.join(dir, 'cache');
    const ws = await Workspace.open({ modelDir: GPT2, dbFile: db, cacheDir: path.join(dir, 'cache') });
    const profile = fastProfile('gpt2-world-a');
    const editor = await ws.editorFor(profile);
    // three applied edits recorded straight in the ledger: the fixture for the ledger commands below
    for (const r of worldEdits(3, 60)) ids.push(ws.ledger.recordEdit(ws.modelId, await editor.edit('rome', [r]), { profile }).editId);
    await ws.close();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('list / show', async () => {
    const l = await eac(['ledger', 'list', '--db', db, '--json']);
    expect(l.code).toBe(0);
    const j = JSON.parse(l.out);
    expect(j.edits.map((e: { id: number }) => e.id)).toEqual(ids);
    const s = await eac(['ledger', 'show', String(ids[0]), '--db', db, '--json']);
    expect(JSON.parse(s.out).norms.length).toBeGreaterThan(0);
    const bad = await eac(['ledger', 'show', 'x', '--db', db]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/EDIT_ID must be a non-negative integer, got "x"/);
  });

  it('revert, remove (replay), export, health --db', async () => {
    const rv = await eac(['ledger', 'revert', '2', '--db', db, '--json']);
    expect(rv.code).toBe(0);
    expect(JSON.parse(rv.out).liveEdits).toBe(2);
    const rm = await eac(['ledger', 'remove', String(ids[0]), '--mode', 'replay', '--db', db, '--json']);
    expect(rm.code).toBe(0);
    const r = JSON.parse(rm.out);
    expect(r.replayed).toHaveLength(1);
    expect(r.liveEdits).toBe(1);
    const out = path.join(dir, 'exported');
    const ex = await eac(['ledger', 'export', out, '--db', db, '--json']);
    expect(ex.code).toBe(0);
    expect(JSON.parse(ex.out).editIds).toEqual(r.replayed);
    expect(fs.existsSync(path.join(out, 'edits.json'))).toBe(true);
    const h = await eac(['health', '--model', GPT2, '--db', db, '--task', 'world-a-sentiment', '--n', '4', '--json']);
    expect(h.code).toBe(0);
    const hj = JSON.parse(h.out);
    expect(hj.editsApplied).toBe(1);
    expect(hj.scores[0].task).toBe('world-a-sentiment');
    expect(hj.scores[0].n).toBe(4);
    // no baseline existed: it was measured on the base model first, not on the edited one
    const ws = await Workspace.open({ modelDir: GPT2, dbFile: db, cacheDir: path.join(dir, 'cache') });
    const series = ws.ledger.healthSeries(ws.modelId, 'world-a-sentiment');
    await ws.close();
    expect(series).toHaveLength(2);
    expect(series[0]).toMatchObject({ editsApplied: 0, afterEditSeq: 0 });
    expect(series[1].editsApplied).toBe(1);
    expect(series[1].baselineScore).toBe(series[0].score);
  });

  it('list on a foreign SQLite file: exit 2 naming the file, not a byte changed; on a missing file: exit 2, not created', async () => {
    const foreign = path.join(dir, 'foreign.sqlite');
    const raw = new Database(foreign);
    raw.exec(`CREATE TABLE t (x); INSERT INTO t VALUES (1)`);
    raw.close();
    const before = fs.readFileSync(foreign);
    const r = await eac(['ledger', 'list', '--db', foreign]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(foreign);
    expect(r.err).toMatch(/not an EAC Studio ledger/);
    expect(fs.readFileSync(foreign).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('foreign.sqlite'))).toEqual(['foreign.sqlite']);
    const missing = path.join(dir, 'nope', 'missing.sqlite');
    const m = await eac(['ledger', 'show', '1', '--db', missing]);
    expect(m.code).toBe(2);
    expect(m.err).toContain(`the ledger ${missing} does not exist`);
    expect(fs.existsSync(path.dirname(missing))).toBe(false);
  });

  it('a second writer is refused (exit 1) naming the holding process; readers still work', async () => {
    const script = path.join(dir, 'hold.ts');
    fs.writeFileSync(
      script,
      `import { openLedger } from ${JSON.stringify(path.resolve('src-main/store'))};
       openLedger(${JSON.stringify(db)}); process.stdout.write('HOLDING\\n'); setInterval(() => {}, 1000);`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, 'holder-of-the-ledger'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d) => String(d).includes('HOLDING') && resolve());
        child.on('exit', (c) => reject(new Error(`holder exited ${c}`)));
      });
      const r = await eac(['ledger', 'revert', '0', '--db', db, '--json']);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`pid ${child.pid}`);
      expect(r.err).toContain('holder-of-the-ledger');
      expect(r.err).toContain(db);
      // the same file under a second name (issue 19): `ln ledger.sqlite other.sqlite` must not get around the lock
      const other = path.join(dir, 'other.sqlite');
      fs.linkSync(db, other);
      try {
        const viaLink = await eac(['ledger', 'revert', '0', '--db', other, '--json']);
        expect(viaLink.code, viaLink.err).toBe(2);
        expect(viaLink.err).toContain('2 hard links');
        expect(viaLink.err).toMatch(/independent copy/);
        const listViaLink = await eac(['ledger', 'list', '--db', other]);
        expect(listViaLink.code).toBe(2);
        expect(fs.readdirSync(dir).filter((n) => n.startsWith('other.sqlite'))).toEqual(['other.sqlite']);
      } finally {
        fs.unlinkSync(other);
      }
      // a symlink reaches the holder's lock
      const sym = path.join(dir, 'sym.sqlite');
      fs.symlinkSync(db, sym);
      const viaSym = await eac(['ledger', 'revert', '0', '--db', sym, '--json']);
      fs.unlinkSync(sym);
      expect(viaSym.code, viaSym.err).toBe(1);
      expect(viaSym.err).toContain(`pid ${child.pid}`);
      const l = await eac(['ledger', 'list', '--db', db, '--json']);
      expect(l.code).toBe(0);
      // nothing was reverted
      expect(JSON.parse(l.out).edits.filter((e: { active: boolean }) => e.active).length).toBeGreaterThan(0);
    } finally {
      await new Promise<void>((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
  });

  it('health without --db runs the base model on the bundled tasks that fit it', async () => {
    const h = await eac(['health', '--model', GPT2, '--n', '3', '--json']);
    expect(h.code).toBe(0);
    const hj = JSON.parse(h.out);
    expect(hj.scores.map((s: { task: string }) => s.task).sort()).toEqual(['world-a-nli', 'world-a-qa', 'world-a-sentiment', 'world-a-summarization']);
    expect(hj.scores.find((s: { task: string }) => s.task === 'world-a-sentiment').score).toBeGreaterThan(0.5);
  });
});
