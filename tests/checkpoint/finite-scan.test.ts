// Issue 19: NaN / Inf anywhere in a weight is found by the import's full read (the sha256 pass), not only in the three
// 4 KiB windows per tensor the open samples. Real files: copies of the GPT-2 fixture (F32) and a BF16 rewrite of it,
// with one NaN or Inf put at 25 %, 30 % or 80 % of a tensor — places the open-time sample never reads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CheckpointError,
  checkpointHashes,
  clearHashMemo,
  f32ToBf16,
  hashing,
  loadCheckpoint,
  readTensorF32,
  writeSafetensors,
  type StDType,
} from '../../src-main/engine/checkpoint';
import { FiniteScanner } from '../../src-main/engine/checkpoint/finite-scan';
import { runEac } from '../jobs/helpers';
import { FIXTURES } from '../shared';

const SRC = path.join(FIXTURES, 'gpt2-world-a');
const TENSOR = 'h.2.mlp.c_fc.weight';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-finite-scan-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeEach(() => clearHashMemo());

let n = 0;
/** A copy of the fixture model, its weights in `dtype` (BF16: rewritten from the F32 values). */
function modelIn(dtype: 'F32' | 'BF16'): string {
  const dir = path.join(tmp, `m${n++}-${dtype}`);
  fs.cpSync(SRC, dir, { recursive: true });
  if (dtype === 'BF16') {
    const ck = loadCheckpoint(SRC);
    const tensors = [...ck.tensors.values()].map((t) => ({
      name: t.name,
      dtype: 'BF16' as StDType,
      shape: t.shape,
      data: new Uint8Array(f32ToBf16(readTensorF32(ck, t.name)).buffer),
    }));
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  }
  return dir;
}

/** Writes NaN (or +Inf) into element `frac` of the way through TENSOR; returns that element's index and the count. */
function poison(dir: string, frac: number, what: 'NaN' | 'Inf'): { index: number; count: number } {
  const e = loadCheckpoint(dir).tensors.get(TENSOR)!;
  const unit = e.dtype === 'BF16' ? 2 : 4;
  const count = e.byteLength / unit;
  const index = Math.floor(count * frac);
  const b = Buffer.alloc(unit);
  if (unit === 4) b.writeUInt32LE(what === 'NaN' ? 0x7fc00000 : 0x7f800000);
  else b.writeUInt16LE(what === 'NaN' ? 0x7fc0 : 0x7f80);
  const fd = fs.openSync(path.join(dir, 'model.safetensors'), 'r+');
  fs.writeSync(fd, b, 0, unit, e.offset + index * unit);
  fs.closeSync(fd);
  return { index, count };
}

async function refusal(p: Promise<unknown>): Promise<CheckpointError> {
  try {
    await p;
  } catch (e) {
    return e as CheckpointError;
  }
  throw new Error('expected a refusal, the import passed');
}

describe('the import scans every float for NaN / Inf', () => {
  for (const dtype of ['F32', 'BF16'] as const) {
    for (const [frac, what] of [[0.25, 'NaN'], [0.3, 'NaN'], [0.8, 'NaN'], [0.3, 'Inf']] as const) {
      it(`${dtype}: ${what} at ${frac * 100} % of ${TENSOR} -> non_finite naming the tensor and element; nothing recorded`, async () => {
        const dir = modelIn(dtype);
        const { index, count } = poison(dir, frac, what);
        // the open-time sample (three 4 KiB windows per tensor) does not see it
        const ck = loadCheckpoint(dir);
        const cacheDir = path.join(dir, 'cache');
        const e = await refusal(checkpointHashes(ck, { cacheDir }));
        expect(e).toBeInstanceOf(CheckpointError);
        expect(e.code).toBe('non_finite');
        expect(e.message).toContain(path.join(dir, 'model.safetensors'));
        expect(e.message).toContain(`"${TENSOR}"`);
        expect(e.message).toContain(`${what === 'NaN' ? 'NaN' : 'infinite'} values (element ${index} of ${count}`);
        expect(e.message).toMatch(/re-download or re-export it/);
        // the file was not recorded: the next open reads it again and refuses again (not trusted on size + mtime)
        clearHashMemo();
        expect((await refusal(checkpointHashes(ck, { cacheDir }))).code).toBe('non_finite');
      });
    }
  }

  it('through the CLI: eac verify exits 2 naming the tensor and element', async () => {
    const dir = modelIn('BF16');
    const { index } = poison(dir, 0.8, 'NaN');
    const r = await runEac(['verify', '--model', dir, '--cache-dir', path.join(dir, 'cache'), '--json']);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`tensor "${TENSOR}" holds NaN values (element ${index} of`);
  });

  it('a clean file is recorded as scanned, and a later open trusts that record without reading it again', async () => {
    const dir = modelIn('F32');
    const ck = loadCheckpoint(dir);
    const cacheDir = path.join(dir, 'cache');
    const first = await checkpointHashes(ck, { cacheDir });
    expect(first.files.find((f) => f.name === 'model.safetensors')!.record.finite).toBe(true);
    clearHashMemo();
    const spy = vi.spyOn(hashing, 'fullFile');
    try {
      const again = await checkpointHashes(ck, { cacheDir });
      expect(again.rehashed).toEqual([]);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('FiniteScanner on chunks split anywhere', () => {
  // every dtype, a tensor starting at an odd offset, chunks of 1..9 bytes and one large: the bad element is found
  // wherever the chunk boundaries fall, and its index is right
  const cases: [StDType, number, (b: Buffer, at: number) => void][] = [
    ['F32', 4, (b, at) => b.writeUInt32LE(0x7f800001, at)],
    ['BF16', 2, (b, at) => b.writeUInt16LE(0xff81, at)],
    ['F16', 2, (b, at) => b.writeUInt16LE(0x7c00, at)],
    ['F64', 8, (b, at) => (b.writeUInt32LE(0, at), b.writeUInt32LE(0x7ff00000, at + 4))],
  ];
  for (const [dtype, unit, put] of cases) {
    for (const [offset, bad] of [[13, 29], [16, 29], [16, 36]]) it(`${dtype}, tensor at byte ${offset}, bad element ${bad}`, () => {
      const count = 37;
      const file = Buffer.alloc(offset + count * unit + 5, 0x11);
      // finite filler: 0x11 bytes are finite in every format; the bad value at element `bad` (36: the last, odd one)
      put(file, offset + bad * unit);
      const t = { name: 'w', dtype, shape: [count], file: 'f', offset, byteLength: count * unit };
      for (const size of [1, 2, 3, 5, 7, 9, 1 << 20]) {
        const s = new FiniteScanner('f', [t]);
        let err: unknown = null;
        try {
          for (let p = 0; p < file.length; p += size) s.update(file.subarray(p, p + size));
          s.finish();
        } catch (e) {
          err = e;
        }
        expect((err as CheckpointError)?.code, `${dtype} chunk ${size}`).toBe('non_finite');
        expect((err as Error).message).toContain(`element ${bad} of ${count}`);
      }
      // without the bad value every chunking passes
      const clean = Buffer.alloc(file.length, 0x11);
      for (const size of [1, 3, 8]) {
        const s = new FiniteScanner('f', [t]);
        for (let p = 0; p < clean.length; p += size) s.update(clean.subarray(p, p + size));
        expect(() => s.finish()).not.toThrow();
      }
    });
  }
});
