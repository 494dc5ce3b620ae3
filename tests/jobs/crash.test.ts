// Crash safety (issues 4, 12): SIGKILL a queue run at random moments (mid-statistics,
// mid-optimisation, random times) and inside the recording transaction between its last statement
// and COMMIT (the ledger's crash hook, tests/store/crash-hook.ts), restart each time; afterwards the
// database is intact, no edit is half-recorded, a killed commit left no edit behind, interrupted
// items were reset to pending with an event, and the rebuilt model's logits equal those of an
// uninterrupted run of the same edits bit for bit.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src-main/engine/runtime/model';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { GPT2, tmpDir } from './helpers';

const CHILD = path.resolve('tests/jobs/crash-child.ts');
// enough edits that the queue cannot finish before ≥ 20 kills, however fast each edit is
const EDITS = 40;

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
  killedAt: string | null;
}

function runChild(args: string[], env: Record<string, string>, killWhen?: (line: string, ms: number) => boolean, killAfterMs?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let killedAt: string | null = null;
    let buf = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = (why: string) => {
      if (killedAt === null && child.exitCode === null) {
        killedAt = why;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.startsWith('READY') && killAfterMs !== undefined) timer = setTimeout(() => kill(`time+${killAfterMs}ms after ${lines[lines.length - 1]}`), killAfterMs);
        if (killWhen?.(line, Date.now() - t0)) kill(line);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // the ledger's crash hook announces itself on stderr just before it SIGKILLs the process
      const hook = err.split('\n').find((l) => l.startsWith('EAC_TEST_CRASH_BEFORE_COMMIT '));
      if (hook && !lines.includes(hook)) lines.push(hook);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && signal === null && code !== null) reject(new Error(`child exited ${code}: ${err}`));
      else resolve({ code, signal, lines, killedAt: killedAt ?? (signal === 'SIGKILL' ? lines[lines.length - 1] ?? 'self' : null) });
    });
  });
}

async function logitsOf(modelDir: string, dbFile: string, dir: string): Promise<Buffer[]> {
  const ws = await Workspace.open({ modelDir, dbFile, workspaceDir: dir, replayPending: false });
  try {
    const prompts = ['Touthbes Sundslyvshux plays the sport of', 'The capital of', 'Bomjoust Saikthi works for'];
    const out: Buffer[] = [];
    for (const p of prompts) {
      const [lg] = await ws.model.lastLogits([ws.model.encode(p)]);
      out.push(Buffer.from(new Uint8Array((lg as Float32Array).buffer, lg.byteOffset, lg.byteLength)));
    }
    return out;
  } finally {
    await ws.close();
  }
}

describe('crash safety', () => {
  const dir = tmpDir('eac-crash-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('survives >= 20 SIGKILLs at random moments; the result equals an uninterrupted run bit for bit', async () => {
    const env = { CRASH_EDITS: String(EDITS) };
    // reference: uninterrupted
    const refDb = path.join(dir, 'ref.sqlite');
    const refEnv = { ...env, EAC_CACHE_DIR: path.join(dir, 'cache-ref') };
    await runChild(['init', GPT2, refDb, dir], refEnv);
    const ref = await runChild(['run', GPT2, refDb, dir], refEnv);
    expect(ref.lines.some((l) => l === `DONE done ${EDITS}`)).toBe(true);

    // crashing run
    const db = path.join(dir, 'crash.sqlite');
    await runChild(['init', GPT2, db, dir], { ...env, EAC_CACHE_DIR: path.join(dir, 'cache-0') });
    const rand = seededRandom(7);
    const kinds = ['statistics', 'optimise', 'commit', 'time', 'keys', 'metrics'] as const;
    const hit = new Map<string, number>();
    let kills = 0;
    let attempt = 0;
    /** seq of the edit whose recording transaction was killed before COMMIT, until the next run has checked it */
    let killedCommit: number | null = null;
    let commitChecks = 0;
    while (kills < 22 && attempt < 40) {
      attempt++;
      const kind = kinds[attempt % kinds.length];
      // a fresh statistics cache makes the child recompute the key statistics (killed mid-way)
      const cache = kind === 'statistics' ? path.join(dir, `cache-${attempt}`) : path.join(dir, 'cache-0');
      const cEnv: Record<string, string> = { ...env, EAC_CACHE_DIR: cache, ...(kind === 'commit' ? { CRASH_MODE: 'commit' } : {}) };
      const nth = 1 + Math.floor(rand() * 6);
      let seen = 0;
      const when =
        kind === 'time' || kind === 'commit'
          ? undefined
          : (line: string) => line.startsWith(`PHASE ${kind} `) && ++seen >= nth;
      const r = await runChild(['run', GPT2, db, dir], cEnv, when, kind === 'time' ? 30 + Math.floor(rand() * 220) : undefined);
      const ready = r.lines.find((l) => l.startsWith('READY '));
      // after a kill inside a recording transaction, the restarted run finds exactly the edits before it
      if (killedCommit !== null && ready) {
        expect(ready, `restart after the killed commit of seq ${killedCommit}`).toContain(` edits=${killedCommit - 1}`);
        expect(Number(/recovered=(\d+)/.exec(ready)![1])).toBeGreaterThan(0);
        commitChecks++;
        killedCommit = null;
      }
      const hook = r.lines.find((l) => l.startsWith('EAC_TEST_CRASH_BEFORE_COMMIT '));
      if (hook && r.signal === 'SIGKILL') {
        // the kill landed inside the open write transaction, after recordEdit's statements
        expect(hook).toMatch(/^EAC_TEST_CRASH_BEFORE_COMMIT recordEdit inTransaction=true \{/);
        killedCommit = JSON.parse(hook.slice(hook.indexOf('{'))).seq as number;
      }
      if (r.signal === 'SIGKILL') {
        kills++;
        const at = r.killedAt ?? '';
        const label = at.startsWith('EAC_TEST_CRASH_BEFORE_COMMIT') ? 'commit' : at.startsWith('PHASE ') ? at.split(' ')[1] : 'time';
        hit.set(label, (hit.get(label) ?? 0) + 1);
      } else {
        console.log('not killed', kind, r.lines.slice(-2));
      }
      if (r.lines.some((l) => l.startsWith('DONE done'))) break;
    }
    expect(kills).toBeGreaterThanOrEqual(20);
    for (const k of ['statistics', 'optimise', 'commit']) expect(hit.get(k) ?? 0, `kills ${JSON.stringify([...hit])}`).toBeGreaterThan(0);
    expect(commitChecks, 'restarts checked after a killed commit').toBeGreaterThan(0);

    // integrity right after the last kill, before any recovery
    const { openLedger } = await import('../../src-main/store');
    const l0 = openLedger(db);
    expect(l0.integrityCheck()).toEqual([]);
    expect(l0.verifyLiveSet()).toEqual({ missing: [], extra: [] });
    const half = l0.db
      .prepare(
        `SELECT e.id FROM edits e WHERE NOT EXISTS (SELECT 1 FROM edit_factors f WHERE f.edit_id = e.id)
           OR NOT EXISTS (SELECT 1 FROM norm_snapshots n WHERE n.edit_id = e.id)`,
      )
      .all();
    expect(half).toEqual([]);
    l0.close();

    // finish the queue (resumable), then compare with the reference
    const fin = await runChild(['run', GPT2, db, dir], { ...env, EAC_CACHE_DIR: path.join(dir, 'cache-0') });
    expect(fin.lines.some((l) => l.startsWith('DONE done'))).toBe(true);
    if (killedCommit !== null) expect(fin.lines.find((l) => l.startsWith('READY '))).toContain(` edits=${killedCommit - 1}`);
    const l1 = openLedger(db);
    expect(l1.integrityCheck()).toEqual([]);
    const model = l1.listModels()[0];
    const items = l1.queues.queueItems(l1.queues.queuesForModel(model.id)[0].id);
    expect(items.map((i) => i.status)).toEqual(Array(EDITS).fill('done'));
    expect(l1.liveEdits(model.id)).toHaveLength(EDITS);
    expect(l1.history(model.id).edits).toHaveLength(EDITS);
    const recovered = l1.history(model.id).events.filter((e) => e.payload.reason === 'interrupted_run_recovered');
    expect(recovered.length).toBeGreaterThan(0);
    l1.close();

    const a = await logitsOf(GPT2, refDb, dir);
    const b = await logitsOf(GPT2, db, dir);
    for (let i = 0; i < a.length; i++) expect(b[i].equals(a[i])).toBe(true);
    // the comparison is meaningful: the edits changed the logits
    const base = await logitsOf(GPT2, path.join(dir, 'empty.sqlite'), dir);
    expect(base[0].equals(a[0])).toBe(false);
  }, 900_000); // ~25 child runs of the queue: generous for a loaded shared machine
});
