// The fuzz corpus (tests/fuzz/corpus.ts): ≥ 300 seeded malformed checkpoints, config.json files,
// tokenizer.json files, fact files and ledger files (ledger-cases.ts), FIFOs included, each with its expected outcome — a
// CheckpointError with a specific code, a parse result, or acceptance. All cases run in one child
// process (fuzz-child.ts) under a per-case watchdog: a case that does not finish within
// CASE_WATCHDOG_MS is a hang — the child is killed (SIGKILL ends even a blocking open of a FIFO),
// the case fails as "hung", and a fresh child goes on with the next case. The watchdog is a hang
// detector, not a speed assertion: it is ~100x what any case needs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCorpus, SECRET, type FuzzCase } from './corpus';
import type { Outcome } from './fuzz-child';

const CHILD = path.resolve('tests/fuzz/fuzz-child.ts');
const CASE_WATCHDOG_MS = 20_000;
/** a child's start-up (tsx compiling the engine) is not a case: it gets its own, longer allowance */
const STARTUP_MS = 120_000;

const cases = buildCorpus();
const results = new Map<number, Outcome | { hung: true }>();
let work = '';

/** Runs cases from `first` on in one child; resolves with the index after the last one it finished. */
function runFrom(first: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, work, String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let current = first;
    let timer: NodeJS.Timeout | null = null;
    let started = false;
    let buf = '';
    let stderr = '';
    const arm = (ms: number) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        results.set(current, started ? { hung: true } : { threw: `the fuzz child did not start within ${ms} ms` });
        child.kill('SIGKILL');
      }, ms);
    };
    arm(STARTUP_MS);
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = JSON.parse(line) as { i: number; start?: true; outcome?: Outcome };
        current = m.i;
        if (m.start) {
          started = true;
          arm(CASE_WATCHDOG_MS);
        }
        else results.set(m.i, m.outcome!);
      }
    });
    child.on('exit', (code) => {
      if (timer) clearTimeout(timer);
      if (!results.has(current)) results.set(current, { threw: `child exited with ${code} during the case: ${stderr.slice(-2000)}` });
      resolve(current + 1);
    });
  });
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-fuzz-'));
  let next = 0;
  while (next < cases.length) next = await runFrom(next);
}, 600_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function check(c: FuzzCase, got: Outcome | { hung: true } | undefined): void {
  expect(got, `${c.id}: no outcome`).toBeDefined();
  expect('hung' in got! ? 'hung (watchdog fired)' : 'finished', c.id).toBe('finished');
  const o = got as Outcome;
  const e = c.expect;
  if ('ok' in e) {
    expect(o, c.id).toEqual({ ok: true });
  } else if ('code' in e) {
    expect('code' in o ? o.code : o, c.id).toBe(e.code);
    const msg = (o as { message: string }).message;
    for (const m of c.mentions ?? []) expect(msg, `${c.id}: message names ${m}`).toContain(m);
    expect(msg, `${c.id}: message quotes file content`).not.toContain(SECRET);
  } else if ('threw' in e) {
    expect('threw' in o ? o.threw : o, c.id).toContain(e.threw);
    expect((o as { threw: string }).threw, `${c.id}: message quotes file content`).not.toContain(SECRET);
  } else {
    expect('facts' in o, `${c.id}: got ${JSON.stringify(o).slice(0, 300)}`).toBe(true);
    const f = (o as Extract<Outcome, { facts: unknown }>).facts;
    expect({ requests: f.requests, errors: f.errors }, c.id).toEqual({ requests: e.facts.requests, errors: e.facts.errors });
    if (e.facts.fileError !== undefined) expect(f.fileError, c.id).toBe(e.facts.fileError);
    for (const fld of e.facts.fields ?? []) expect(f.fields, c.id).toContain(fld);
    // row messages of a JSON/JSONL parse failure do not quote the bad line
    for (const m of f.messages) if (/invalid JSON/.test(m)) expect(m, c.id).not.toContain(SECRET);
  }
}

describe('fuzz corpus', () => {
  it('has at least 300 cases of every kind, FIFOs included, with unique ids', () => {
    expect(cases.length).toBeGreaterThanOrEqual(300);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
    for (const t of ['checkpoint', 'tokenizer', 'facts'] as const) expect(cases.filter((c) => c.target === t).length).toBeGreaterThan(40);
    // the import's full read (NaN / Inf deep inside a tensor, issue 19)
    expect(cases.filter((c) => c.target === 'import').length).toBeGreaterThanOrEqual(3);
    expect(cases.filter((c) => c.target === 'ledger').length).toBeGreaterThanOrEqual(20);
    expect(cases.filter((c) => Object.values(c.files).some((f) => f.kind === 'fifo')).length).toBeGreaterThanOrEqual(8);
    // the corpus is a function of its seed
    expect(JSON.stringify(buildCorpus().map((c) => [c.id, c.expect]))).toBe(JSON.stringify(cases.map((c) => [c.id, c.expect])));
  });

  for (const [i, c] of cases.entries()) {
    it(`${c.id} -> ${JSON.stringify(c.expect)}`, () => check(c, results.get(i)));
  }
});
