// Hostile files through the real `eac` binary: FIFOs fail at once (never block), a header-only fact
// file is an error with exit 2, a config.json claiming 1e9 layers fails naming the file and field.
// Each child runs under a watchdog (execFile timeout): a hang kills it and fails the test as a hang.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../engine/helpers';
import { FIXTURES } from '../shared';

const BIN = path.join(REPO, 'bin/eac.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-cli-untrusted-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const WATCHDOG_MS = 60_000;

function eac(args: string[]): Promise<{ code: number; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: tmp, env: { ...process.env, EAC_CACHE_DIR: path.join(tmp, 'cache'), EAC_DATA_DIR: path.join(tmp, 'data') }, timeout: WATCHDOG_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number; killed?: boolean }) | null;
        resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr, killed: !!e?.killed });
      },
    ),
  );
}

/** A copy of the GPT-2 fixture folder (weights copied: links out of the folder are refused). */
function modelCopy(name: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d);
  for (const f of fs.readdirSync(path.join(FIXTURES, 'gpt2-world-a'))) fs.copyFileSync(path.join(FIXTURES, 'gpt2-world-a', f), path.join(d, f));
  return d;
}

const model = path.join(FIXTURES, 'gpt2-world-a');

describe('eac on hostile input files', () => {
  it('a FIFO as --facts fails at once with exit 2 naming it (no writer ever opens it)', async () => {
    const fifo = path.join(tmp, 'facts.csv');
    execFileSync('mkfifo', [fifo]);
    const r = await eac(['edit', '--model', model, '--facts', fifo, '--method', 'rome']);
    expect(r.killed, 'eac hung on the FIFO').toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(fifo);
    expect(r.stderr).toMatch(/FIFO \(named pipe\), not a regular file/);
  });

  it('a header-only CSV is an error (exit 2, "no data rows"), not "done: 0 edits"', async () => {
    const csv = path.join(tmp, 'header-only.csv');
    fs.writeFileSync(csv, 'prompt,subject,target_new\n');
    const r = await eac(['edit', '--model', model, '--facts', csv, '--method', 'rome']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no valid edit requests to run .*header row but no data rows/);
    expect(r.stdout).not.toMatch(/done:/);
  });

  it('a FIFO named tokenizer.json fails the open with a clear error (exit 2)', async () => {
    const d = modelCopy('fifo-tokenizer');
    fs.rmSync(path.join(d, 'tokenizer.json'));
    execFileSync('mkfifo', [path.join(d, 'tokenizer.json')]);
    const r = await eac(['info', '--model', d]);
    expect(r.killed, 'eac hung on the FIFO').toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(d, 'tokenizer.json'));
    expect(r.stderr).toMatch(/FIFO/);
  });

  it('config.json with n_layer 1e9 fails naming config.json and n_layer (bounded by the tensors present)', async () => {
    const d = modelCopy('huge-layers');
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, n_layer: 1e9 }));
    const r = await eac(['info', '--model', d]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(d, 'config.json'));
    expect(r.stderr).toMatch(/n_layer is 1000000000, but the weight files hold tensors for \d+ layers/);
  });
});

describe('other files the engine reads', () => {
  it('a FIFO as the statistics corpus fails at once (bad-corpus, naming the FIFO) instead of blocking', async () => {
    const fifo = path.join(tmp, 'corpus.txt');
    execFileSync('mkfifo', [fifo]);
    const mod = path.join(REPO, 'src-main/engine/edit/stats/corpus.ts');
    const code = `import(${JSON.stringify(mod)}).then((m) => { try { m.readCorpusSamples(${JSON.stringify(fifo)}); console.log('read'); } catch (e) { console.log(e.code + ': ' + e.message); } })`;
    const r = await new Promise<{ stdout: string; killed: boolean }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', '-e', code], { cwd: REPO, timeout: WATCHDOG_MS, killSignal: 'SIGKILL' }, (err, stdout) =>
        resolve({ stdout, killed: !!(err as { killed?: boolean } | null)?.killed }),
      ),
    );
    expect(r.killed, 'reading the FIFO corpus hung').toBe(false);
    expect(r.stdout).toMatch(/^bad-corpus: cannot read the statistics corpus .*corpus\.txt: .*FIFO/m);
  });
});
