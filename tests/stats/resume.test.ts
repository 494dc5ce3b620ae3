// Issue 19 item 12: key statistics are checkpointed while they accumulate and a rerun goes on from
// the checkpoint. The resumed C must be bit-identical (float64) to an uninterrupted run's: the state
// is saved with its pending keys, so the same numbers are added in the same order.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyStats, type KeyStats, type StatsOptions } from '../../src-main/engine/edit/stats';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURES } from '../shared';

const FIXTURE = `${FIXTURES}/gpt2-world-a`;
const LAYERS = [1, 2];
// batch 1 → chunks of 32 samples: 48 samples make two chunks, so resumes land in either
const BASE = { samples: 48, batchSize: 1, accumulate: { tokenCapacity: 100, block: 64 } } satisfies Partial<StatsOptions>;

const bytes = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const files = (dir: string) => (fs.existsSync(path.join(dir, 'stats')) ? fs.readdirSync(path.join(dir, 'stats')).sort() : []);

describe('key statistics resume from a checkpoint', () => {
  let model: LoadedModel;
  let tmp: string;
  let full: Map<number, KeyStats>;
  beforeAll(async () => {
    model = LoadedModel.open(FIXTURE);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-stats-resume-'));
    full = await keyStats(model, LAYERS, { ...BASE, cacheDir: path.join(tmp, 'full'), checkpoint: false });
  }, 120_000);
  afterAll(async () => {
    await model?.release();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs until `abortAt` samples are done, then cancels; returns the samples seen. */
  async function cutOff(cacheDir: string, abortAt: number): Promise<number> {
    const ac = new AbortController();
    let seen = 0;
    await expect(
      keyStats(model, LAYERS, {
        ...BASE,
        cacheDir,
        checkpoint: { everySamples: 8 },
        signal: ac.signal,
        onProgress: (d) => {
          seen = d;
          if (d >= abortAt) ac.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    return seen;
  }

  it('cut off at k of n (twice, in both chunks), the rerun starts at k and its C is bit-identical to an uninterrupted run', async () => {
    const dir = path.join(tmp, 'cut');
    expect(await cutOff(dir, 11)).toBe(11);
    // a checkpoint (saved on the cancel) and no finished entry
    expect(files(dir).filter((f) => f.endsWith('.json'))).toEqual([expect.stringMatching(/^partial-[0-9a-f]{40}\.json$/)]);
    const starts: number[] = [];
    // second cut: resumes from 11, goes into the second chunk
    const ac = new AbortController();
    await expect(
      keyStats(model, LAYERS, {
        ...BASE,
        cacheDir: dir,
        checkpoint: { everySamples: 8 },
        signal: ac.signal,
        onProgress: (d) => {
          starts.push(d);
          if (d >= 37) ac.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(starts[0]).toBe(11);
    const progress: number[] = [];
    const resumed = await keyStats(model, LAYERS, { ...BASE, cacheDir: dir, checkpoint: { everySamples: 8 }, onProgress: (d) => progress.push(d) });
    expect(progress[0]).toBe(37);
    expect(progress.at(-1)).toBe(48);
    for (const l of LAYERS) {
      expect(resumed.get(l)!.source).toBe('computed');
      expect(resumed.get(l)!.count).toBe(full.get(l)!.count);
      expect(bytes(resumed.get(l)!.mom2).equals(bytes(full.get(l)!.mom2))).toBe(true);
    }
    // the checkpoint is gone once the entries are written; only the finished entries remain
    expect(files(dir).filter((f) => f.startsWith('partial-'))).toEqual([]);
  }, 300_000);

  it('a damaged checkpoint, or one of another run (other samples), is not used: the run starts over and still matches', async () => {
    const dir = path.join(tmp, 'damaged');
    await cutOff(dir, 20);
    const bin = files(dir).find((f) => f.endsWith('.sum.bin'))!;
    const p = path.join(dir, 'stats', bin);
    const buf = fs.readFileSync(p);
    buf[8 * 1000] ^= 0x10;
    fs.writeFileSync(p, buf);
    const progress: number[] = [];
    const r = await keyStats(model, LAYERS, { ...BASE, cacheDir: dir, onProgress: (d) => progress.push(d) });
    expect(progress[0]).toBe(0);
    for (const l of LAYERS) expect(bytes(r.get(l)!.mom2).equals(bytes(full.get(l)!.mom2))).toBe(true);

    const other = path.join(tmp, 'other');
    await cutOff(other, 20);
    const p2: number[] = [];
    await keyStats(model, LAYERS, { ...BASE, samples: 40, cacheDir: other, onProgress: (d) => p2.push(d) });
    expect(p2[0]).toBe(0);
  }, 300_000);
});
