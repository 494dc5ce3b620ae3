// Peak resident memory at LLaMA-3-8B width: a 2-layer checkpoint with LLaMA-3's exact widths and
// dtype (d 4096, d_ff 14336, 32 heads / 8 KV heads, vocab 128256, BF16; 2.77 GiB, two thirds of it
// the embedding and the untied head) generates in a child process whose peak RSS (VmHWM) must stay
// within 1.3× the weight bytes. Before the memory model this took 2.83× (a folded f32 copy of every
// weight per session, the head cast whole on every pass).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { makeShapeCheckpoint, tensorBytes } from '../../scripts/make-shape-checkpoint';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE, 'child-generate.ts');
const GiB = 1024 ** 3;

function freeDiskBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

const tooSmall =
  os.totalmem() < 8 * GiB ? `needs 8 GiB of RAM (${(os.totalmem() / GiB).toFixed(1)} here)` : freeDiskBytes(os.tmpdir()) < 6 * GiB ? `needs 6 GiB free in ${os.tmpdir()}` : null;

describe.skipIf(!!tooSmall)(`peak memory at LLaMA-3 width${tooSmall ? ` (skipped: ${tooSmall})` : ''}`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-llama3-2l-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a 2-layer BF16 checkpoint generates with peak RSS ≤ 1.3× its weight bytes', async () => {
    // the scale benchmark's writer (Meta-Llama-3-8B's names, shapes, BF16 and config; its tokenizer), 2 layers: one file
    const spec = makeShapeCheckpoint('llama3-8b', dir, { layers: 2 });
    const weightBytes = spec.tensors.reduce((a, t) => a + tensorBytes(t), 0);
    expect(weightBytes).toBeGreaterThan(2.7 * GiB);
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', CHILD, dir, '4'], { maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as { hwm: number; weightBytes: number; newTokens: number };
    const ratio = r.hwm / r.weightBytes;
    console.log(`peak RSS ${(r.hwm / GiB).toFixed(2)} GiB for ${(r.weightBytes / GiB).toFixed(2)} GiB of weights: ${ratio.toFixed(2)}×`);
    expect(r.weightBytes).toBe(weightBytes);
    expect(r.newTokens).toBe(4);
    expect(ratio).toBeLessThanOrEqual(1.3);
  }, 1_800_000);
});
