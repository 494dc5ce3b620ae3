// Key statistics and Cholesky at real d_ff on synthetic data (no checkpoint needed), for the memory
// rule of issue 9: C accumulated in place, factorised in place, the factor persisted and re-read.
// Run under /usr/bin/time -v for the peak RSS:
//   /usr/bin/time -v node --expose-gc --import tsx scripts/measure-solve.ts --n 6400 --phase cholesky
//   /usr/bin/time -v node --import tsx scripts/measure-solve.ts --n 14336 --phase accumulate --tokens 2048
// Prints one JSON line per phase (seconds, GFLOP/s, bytes of the n² buffers).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CountingAlloc } from '../src-main/engine/edit/alloc';
import { writeCachedStats } from '../src-main/engine/edit/stats/cache';
import { KeyMomentAccumulator, SolveCache } from '../src-main/engine/edit/stats';
import { seededRandom } from '../src-main/engine/runtime/model';

const { values } = parseArgs({
  options: { n: { type: 'string' }, phase: { type: 'string' }, tokens: { type: 'string' }, 'cache-dir': { type: 'string' } },
});
const n = Number(values.n ?? 6400);
const phase = values.phase ?? 'cholesky';
const mib = (b: number) => Math.round(b / (1 << 20));
const rss = () => mib(process.memoryUsage().rss);
/** CPU seconds (user + system, all threads) since `from`: wall time is meaningless on a busy machine */
const cpu = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return +((u.user + u.system) / 1e6).toFixed(1);
};

async function accumulate(): Promise<void> {
  const tokens = Number(values.tokens ?? 2048);
  const alloc = new CountingAlloc();
  const acc = new KeyMomentAccumulator(n, { alloc });
  const r = seededRandom(1);
  const batch = new Float32Array(512 * n);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let gen = 0;
  for (let done = 0; done < tokens; done += 512) {
    const g0 = performance.now();
    for (let i = 0; i < batch.length; i++) batch[i] = r() - 0.5;
    gen += performance.now() - g0;
    for (let p = 0; p < Math.min(512, tokens - done); p++) await acc.add(batch, p * n);
  }
  await acc.finish();
  const s = (performance.now() - t0 - gen) / 1000;
  const big = alloc.atLeast(n * n);
  console.log(JSON.stringify({ phase: 'accumulate', n, tokens, seconds: +s.toFixed(2), cpuSeconds: cpu(c0), gflops: +((tokens * n * n) / s / 1e9).toFixed(1), n2Buffers: big.length, n2MiB: big.map((b) => mib(b.bytes)), largestOtherMiB: mib(Math.max(...alloc.records.filter((x) => x.length < n * n).map((x) => x.bytes))), rssMiB: rss() }));
}

async function cholesky(): Promise<void> {
  // SPD by diagonal dominance: the factorisation does the same work whatever the values
  const r = seededRandom(2);
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) C[i * n + j] = C[j * n + i] = (r() - 0.5) * 0.01;
    C[i * n + i] = 1 + r();
  }
  const cacheDir = values['cache-dir'] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'eac-measure-'));
  const key = `measure-${n}`;
  const w0 = performance.now();
  writeCachedStats(cacheDir, C, { key, layer: 0, dim: n, count: 10 * n, origin: 'computed', model: 'synthetic', corpus: { path: '-', sha256: '-' }, samples: 0 });
  const statsWrite = (performance.now() - w0) / 1000;
  const stats = { key, mom2: C, count: 10 * n, cacheDir };
  const alloc = new CountingAlloc();
  const first = new SolveCache({ alloc, maxBytes: 0 });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await first.prepare(stats, 1e-4, n);
  const cpuFactor = cpu(c0);
  const s = (performance.now() - t0) / 1000;
  const big = alloc.atLeast(n * n);
  console.log(JSON.stringify({ phase: 'cholesky+persist', n, seconds: +s.toFixed(2), cpuSeconds: cpuFactor, gflops: +((n * n * n) / 3 / s / 1e9).toFixed(1), n2Buffers: 1 + big.length, n2MiB: [mib(C.byteLength), ...big.map((b) => mib(b.bytes))], largestOtherMiB: mib(Math.max(...alloc.records.filter((x) => x.length < n * n).map((x) => x.bytes))), statsWriteSeconds: +statsWrite.toFixed(2), rssMiB: rss() }));
  (globalThis as { gc?: () => void }).gc?.(); // drop the first factor before reading it back (run with --expose-gc)
  const second = new SolveCache({ maxBytes: 0 });
  const l0 = performance.now();
  const c1 = process.cpuUsage();
  await second.factor(stats, 1e-4, n);
  console.log(JSON.stringify({ phase: 'load-persisted', n, seconds: +((performance.now() - l0) / 1000).toFixed(2), cpuSeconds: cpu(c1), factorisations: second.factorisations, loads: second.loads, rssMiB: rss() }));
  if (!values['cache-dir']) fs.rmSync(cacheDir, { recursive: true, force: true });
}

if (phase === 'accumulate') await accumulate();
else await cholesky();
