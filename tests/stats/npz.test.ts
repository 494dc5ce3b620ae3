import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { importNpzStats, listZip, parseNpy, StatsError } from '../../src-main/engine/edit/stats-npz';
import { npy, zip, type Descr } from './npz-writer';

// ---- fixtures ---------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-npz-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, buf: Buffer): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, buf);
  return f;
}

/** A symmetric "sum of outer products" of n keys of width d. */
function outerSum(d: number, n: number): number[] {
  const S = new Array(d * d).fill(0);
  for (let t = 0; t < n; t++) {
    const k = Array.from({ length: d }, (_, i) => Math.sin(1.3 * t + 0.7 * i) + 0.1 * i);
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) S[i * d + j] += k[i] * k[j];
  }
  return S;
}

const D = 5;
const N = 40;
const SUM = outerSum(D, N);
const constructor = npy('<U30', [], [0]);

function romeNpz(opts: { sumDescr?: Descr; countDescr?: Descr; method?: number; version?: 1 | 2; zip64?: boolean } = {}): Buffer {
  const m = opts.method ?? 0;
  return zip([
    { name: 'mom2.constructor.npy', data: constructor, method: m, zip64: opts.zip64 },
    { name: 'mom2.count.npy', data: npy(opts.countDescr ?? '<i8', [], [N], { version: opts.version }), method: m, zip64: opts.zip64 },
    { name: 'mom2.mom2.npy', data: npy(opts.sumDescr ?? '<f8', [D, D], SUM, { version: opts.version }), method: m, zip64: opts.zip64 },
  ]);
}

function expectStatsError(fn: () => unknown, code: string, ...patterns: RegExp[]): StatsError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StatsError);
  const e = err as StatsError;
  expect(e.code).toBe(code);
  for (const p of patterns) expect(e.message).toMatch(p);
  return e;
}

// ---- tests --------------------------------------------------------------------------------

describe('importNpzStats round trips', () => {
  it('stored <f8 sum and <i8 count: E = sum / count exactly', () => {
    const f = write('stored.npz', romeNpz());
    const { mom2, count } = importNpzStats(f, D);
    expect(count).toBe(N);
    expect(Array.from(mom2)).toEqual(SUM.map((v) => v / N));
  });

  it('deflated <f4 sum (numpy.savez_compressed layout)', () => {
    const f = write('deflated.npz', romeNpz({ sumDescr: '<f4', method: 8 }));
    const { mom2, count } = importNpzStats(f, D);
    expect(count).toBe(N);
    expect(Array.from(mom2)).toEqual(SUM.map((v) => Math.fround(v) / N));
  });

  it('.npy v2 headers, float counts and zip64 central-directory fields', () => {
    for (const countDescr of ['<f8', '<f4', '<i8']) {
      const f = write(`v2-${countDescr}.npz`, romeNpz({ version: 2, countDescr, zip64: true, method: 8 }));
      const { mom2, count } = importNpzStats(f, D);
      expect(count).toBe(N);
      expect(Array.from(mom2)).toEqual(SUM.map((v) => v / N));
    }
  });

  it('reads files written by numpy itself (np.savez / np.savez_compressed of a ROME state_dict)', () => {
    const dir = fileURLToPath(new URL('./fixtures', import.meta.url));
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'rome-d4-expected.json'), 'utf8')) as { count: number; sum: number[] };
    for (const name of ['rome-savez-d4.npz', 'rome-savez-compressed-d4.npz']) {
      const { mom2, count } = importNpzStats(path.join(dir, name), 4);
      expect(count).toBe(expected.count);
      expect(Array.from(mom2)).toEqual(expected.sum.map((v) => v / expected.count));
    }
  });
});

describe('parseNpy', () => {
  it('C order and Fortran order give the same logical array', () => {
    // logical [[1,2,3],[4,5,6]]; Fortran stores columns first
    const c = parseNpy(npy('<f8', [2, 3], [1, 2, 3, 4, 5, 6]));
    const f = parseNpy(npy('<f8', [2, 3], [1, 4, 2, 5, 3, 6], { fortran: true }));
    expect(c.shape).toEqual([2, 3]);
    expect(Array.from(c.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(f.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('scalars and 1-d shapes', () => {
    expect(parseNpy(npy('<i8', [], [7])).shape).toEqual([]);
    const v = parseNpy(npy('<f4', [3], [0.5, -1, 2]));
    expect(v.shape).toEqual([3]);
    expect(Array.from(v.data)).toEqual([0.5, -1, 2]);
  });

  it('rejects unsupported dtypes, bad magic and short data', () => {
    expectStatsError(() => parseNpy(npy('>f8', [1], [1])), 'unsupported-dtype', /'>f8'/, /'<f4'/);
    expectStatsError(() => parseNpy(npy('<f2', [1], [1])), 'unsupported-dtype');
    expectStatsError(() => parseNpy(Buffer.from('not an npy at all')), 'bad-npy', /magic/);
    const full = npy('<f8', [4], [1, 2, 3, 4]);
    expectStatsError(() => parseNpy(full.subarray(0, full.length - 8)), 'bad-npy', /expected 32/);
  });
});

describe('importNpzStats errors', () => {
  it('not a zip', () => {
    const f = write('plain.npz', Buffer.from('hello, this is text and not a zip archive'));
    expectStatsError(() => importNpzStats(f, D), 'not-zip', /not a zip/);
    const npyOnly = write('bare.npz', npy('<f8', [D, D], SUM));
    expectStatsError(() => importNpzStats(npyOnly, D), 'not-zip');
  });

  it('truncated zip', () => {
    const buf = romeNpz();
    const f = write('truncated.npz', buf.subarray(0, buf.length - 30));
    expect(() => importNpzStats(f, D)).toThrow(StatsError);
  });

  it('missing key lists the keys found', () => {
    const f = write('missing.npz', zip([{ name: 'mom2.mom2.npy', data: npy('<f8', [D, D], SUM) }, { name: 'mean.npy', data: npy('<f8', [D], new Array(D).fill(0)) }]));
    expectStatsError(() => importNpzStats(f, D), 'missing-key', /'mom2\.count'/, /found: 'mom2\.mom2', 'mean'/);
    const g = write('other.npz', zip([{ name: 'weights.npy', data: npy('<f8', [1], [1]) }]));
    expectStatsError(() => importNpzStats(g, D), 'missing-key', /'mom2\.mom2'/, /found: 'weights'/);
    const empty = write('empty.npz', zip([]));
    expectStatsError(() => importNpzStats(empty, D), 'missing-key', /found: none/);
  });

  it('wrong shape names the dim expected and found', () => {
    const f = write('shape.npz', romeNpz());
    expectStatsError(() => importNpzStats(f, 768), 'bad-shape', /\[5, 5\]/, /expected \[768, 768\]/);
    const g = write('rect.npz', zip([{ name: 'mom2.mom2.npy', data: npy('<f8', [D, 1], new Array(D).fill(1)) }, { name: 'mom2.count.npy', data: npy('<i8', [], [3]) }]));
    expectStatsError(() => importNpzStats(g, D), 'bad-shape', /\[5, 1\]/);
  });

  it('unsupported compression, bad CRC, bad count', () => {
    const bz = write('bzip.npz', zip([{ name: 'mom2.mom2.npy', data: npy('<f8', [D, D], SUM), method: 12 }, { name: 'mom2.count.npy', data: npy('<i8', [], [N]) }]));
    expectStatsError(() => importNpzStats(bz, D), 'unsupported-compression', /method 12/);
    const crc = write('crc.npz', zip([{ name: 'mom2.mom2.npy', data: npy('<f8', [D, D], SUM), badCrc: true }, { name: 'mom2.count.npy', data: npy('<i8', [], [N]) }]));
    expectStatsError(() => importNpzStats(crc, D), 'corrupt-zip', /CRC/);
    const zero = write('zero.npz', zip([{ name: 'mom2.mom2.npy', data: npy('<f8', [D, D], SUM) }, { name: 'mom2.count.npy', data: npy('<i8', [], [0]) }]));
    expectStatsError(() => importNpzStats(zero, D), 'bad-count', /0/);
    const vec = write('veccount.npz', zip([{ name: 'mom2.mom2.npy', data: npy('<f8', [D, D], SUM) }, { name: 'mom2.count.npy', data: npy('<i8', [2], [1, 2]) }]));
    expectStatsError(() => importNpzStats(vec, D), 'bad-count', /scalar/);
  });

  it('unsupported dtype inside the npz', () => {
    const f = write('f16.npz', zip([{ name: 'mom2.mom2.npy', data: npy('<f2', [D, D], SUM) }, { name: 'mom2.count.npy', data: npy('<i8', [], [N]) }]));
    expectStatsError(() => importNpzStats(f, D), 'unsupported-dtype', /mom2\.mom2/);
  });

  it('listZip reports names, methods and sizes', () => {
    const entries = listZip(romeNpz({ method: 8 }));
    expect(entries.map((e) => [e.name, e.method])).toEqual([
      ['mom2.constructor.npy', 8],
      ['mom2.count.npy', 8],
      ['mom2.mom2.npy', 8],
    ]);
    expect(entries[2].size).toBe(npy('<f8', [D, D], SUM).length);
  });
});
