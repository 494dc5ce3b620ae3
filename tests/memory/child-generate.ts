// Child process for the peak-memory test: opens a model, generates a few greedy tokens and prints
// one JSON line with its peak resident set (VmHWM) and the checkpoint's weight bytes. Run in its own
// process so the peak belongs to this work alone (not to vitest or other tests).
import fs from 'node:fs';
import { LoadedModel } from '../../src-main/engine/runtime/model';

function status(key: string): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`/proc/self/status has no ${key}`);
  return Number(m[1]) * 1024;
}

const [dir, tokens = '4'] = process.argv.slice(2);
const model = LoadedModel.open(dir);
const out = await model.generate([model.encode('The capital of France is')], Number(tokens), { stopIds: [] });
const stats = model.sessionStats();
await model.release();
process.stdout.write(
  JSON.stringify({ hwm: status('VmHWM'), rss: status('VmRSS'), weightBytes: model.weightBytes, newTokens: out[0].length, sessions: stats }) + '\n',
);
