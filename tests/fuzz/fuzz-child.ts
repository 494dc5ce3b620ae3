// Child process of the fuzz test: writes each case's files and evaluates it, one JSON line per case
// on stdout ("start" before, the outcome after), so the parent's watchdog can tell a hang from a
// slow case and kill this process (SIGKILL works even inside a blocking open/read).
// Usage: node --import tsx tests/fuzz/fuzz-child.ts <workdir> <first case index>
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildCorpus, type FileSpec, type FuzzCase } from './corpus';
import { CheckpointError, checkpointHashes, loadCheckpoint } from '../../src-main/engine/checkpoint';
import { loadTokenizer } from '../../src-main/engine/tokenizer';
import { parseFacts, readFactsFile } from '../../src-main/engine/facts';
import { EacError } from '../../src-main/engine/errors';
import { openLedger } from '../../src-main/store';

export type Outcome =
  | { ok: true }
  | { code: string; message: string }
  | { facts: { requests: number; errors: number; fileError: boolean; fields: string[]; messages: string[] } }
  | { threw: string };

function write(dir: string, rel: string, spec: FileSpec): void {
  const p = path.join(dir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  if (spec.kind === 'bytes') fs.writeFileSync(p, spec.data);
  else if (spec.kind === 'fifo') execFileSync('mkfifo', [p]);
  else if (spec.kind === 'dir') fs.mkdirSync(p);
  else if (spec.kind === 'symlink') fs.symlinkSync(spec.target, p);
  else {
    fs.writeFileSync(p, '');
    fs.truncateSync(p, spec.size); // sparse: no blocks written
  }
}

async function evaluate(c: FuzzCase, dir: string): Promise<Outcome> {
  try {
    if (c.target === 'checkpoint') {
      loadCheckpoint(dir);
      return { ok: true };
    }
    if (c.target === 'import') {
      await checkpointHashes(loadCheckpoint(dir), { full: true });
      return { ok: true };
    }
    if (c.target === 'ledger') {
      const l = openLedger(path.join(dir, 'ledger.sqlite'), { readOnly: true });
      try {
        l.listModels();
        const bad = l.verifyFactors();
        if (bad.length) throw new Error(bad.join('; '));
      } finally {
        l.close();
      }
      return { ok: true };
    }
    if (c.target === 'tokenizer') {
      const tok = loadTokenizer(dir, { vocabSize: c.vocabSize });
      tok.encode('Hello world 123, again!');
      return { ok: true };
    }
    const file = path.join(dir, c.factsFile!);
    const r = parseFacts(path.basename(file), readFactsFile(file));
    return {
      facts: {
        requests: r.requests.length,
        errors: r.errors.length,
        fileError: r.errors.some((e) => e.row === 0),
        fields: r.errors.map((e) => e.field ?? ''),
        messages: r.errors.map((e) => e.message),
      },
    };
  } catch (e) {
    if (e instanceof CheckpointError || (c.target === 'ledger' && e instanceof EacError)) return { code: e.code, message: e.message };
    return { threw: (e as Error)?.message ?? String(e) };
  }
}

const [workdir, firstArg] = process.argv.slice(2);
const cases = buildCorpus();
void (async () => {
  for (let i = Number(firstArg); i < cases.length; i++) {
    const c = cases[i];
    const dir = path.join(workdir, c.id);
    fs.mkdirSync(dir, { recursive: true });
    for (const [rel, spec] of Object.entries(c.files)) write(dir, rel, spec);
    process.stdout.write(JSON.stringify({ i, start: true }) + '\n');
    let outcome = await evaluate(c, dir);
    // a read of a ledger leaves nothing beside it (no -wal / -shm), whatever the file was
    const left = c.target === 'ledger' ? fs.readdirSync(dir).filter((n) => !(n in c.files)) : [];
    if (left.length) outcome = { threw: `left beside the ledger: ${left.join(', ')} (outcome ${JSON.stringify(outcome).slice(0, 300)})` };
    process.stdout.write(JSON.stringify({ i, outcome }) + '\n');
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
