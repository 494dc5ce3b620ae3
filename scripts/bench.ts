// `npm run bench`: engine speed on the fixtures for every available execution provider.
//
// Each (fixture, device) case runs in a fresh child process, so session-creation times are those
// of a cold process and peak RSS (process.resourceUsage().maxRSS) belongs to that case alone.
// Within a case the registered sections run in order on one resident LoadedModel; each returns
// named metrics. Prints a table and writes bench/results.json.
//
// Adding a section: append a BenchSection to `benchSections` below (the edit and health sections
// come from bench-edit.ts), or call registerBenchSection() from a module listed in BENCH_MODULES. Metric names ending in
// _ms are durations, _tok_s throughputs, _mb sizes; anything else is printed as is.
//
//   npm run bench [-- --fixture gpt2-world-a] [--device cpu,webgpu] [--sections session,forward] [--out bench/results.json]
//   npm run bench -- --scale [...]   real-size checkpoints, one child process per phase: see scripts/bench-scale.ts
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fixturesDir } from '../src-main/engine/paths';
import { LoadedModel } from '../src-main/engine/runtime/model';
import type { Device, DeviceReport } from '../src-main/engine/runtime/session';
import { editBenchSections } from './bench-edit';

export interface BenchContext {
  fixture: string;
  dir: string;
  device: Device;
  /** set by the `session` section; later sections reuse it */
  model: LoadedModel | null;
  /** opens the model if no section has yet */
  requireModel(): LoadedModel;
  /** deterministic token ids, none of them special */
  tokens(n: number, seed?: number): number[];
  /** runs fn `warmup` times untimed, then `reps` times; returns the median ms */
  time(fn: () => Promise<unknown>, opts?: { warmup?: number; reps?: number }): Promise<number>;
}

export interface BenchSection {
  name: string;
  /** one line describing what it measures */
  description: string;
  run(ctx: BenchContext): Promise<Record<string, number | string>>;
}

const FORWARD_TOKENS = 128;
const GEN_NEW_TOKENS = 32;

export const benchSections: BenchSection[] = [
  {
    name: 'session',
    description: 'LoadedModel.open and the creation of the forward and KV-cache generation sessions (cold process)',
    async run(ctx) {
      const t0 = performance.now();
      const model = LoadedModel.open(ctx.dir, { device: ctx.device });
      const t1 = performance.now();
      await model.session({ kvCache: false, logits: 'last' });
      const t2 = performance.now();
      await model.session({ kvCache: true, logits: 'last' });
      const t3 = performance.now();
      ctx.model = model;
      const rep: DeviceReport = model.deviceReport;
      return {
        open_ms: t1 - t0,
        session_forward_ms: t2 - t1,
        session_generate_ms: t3 - t2,
        device_used: rep.used,
        ...(rep.fallbackReason ? { fallback: rep.fallbackReason.split('\n')[0].slice(0, 160) } : {}),
      };
    },
  },
  {
    name: 'forward',
    description: `one forward pass over a ${FORWARD_TOKENS}-token prompt (last-position logits), batch 1 and 8`,
    async run(ctx) {
      const model = ctx.requireModel();
      const out: Record<string, number> = {};
      for (const B of [1, 8]) {
        const rows = Array.from({ length: B }, (_, b) => ctx.tokens(FORWARD_TOKENS, 1 + b));
        const ms = await ctx.time(() => model.lastLogits(rows), { warmup: 2, reps: B === 1 ? 10 : 5 });
        out[`forward_b${B}_ms`] = ms;
        out[`forward_b${B}_tok_s`] = (B * FORWARD_TOKENS) / (ms / 1000);
      }
      return out;
    },
  },
  {
    name: 'generate',
    description: `greedy generation with the KV cache, batch 1, ${GEN_NEW_TOKENS} new tokens after a 16-token prompt (prefill included)`,
    async run(ctx) {
      const model = ctx.requireModel();
      const prompt = ctx.tokens(16, 99);
      const ms = await ctx.time(() => model.generate([prompt], GEN_NEW_TOKENS, { stopIds: [] }), { warmup: 1, reps: 3 });
      return { generate_b1_ms: ms, generate_b1_tok_s: GEN_NEW_TOKENS / (ms / 1000) };
    },
  },
  ...editBenchSections,
];

export function registerBenchSection(s: BenchSection): void {
  if (benchSections.some((x) => x.name === s.name)) throw new Error(`bench section "${s.name}" is registered twice`);
  benchSections.push(s);
}

/** Modules (paths relative to this file) imported in each case before the sections run. */
const BENCH_MODULES: string[] = [];

/** ----- plumbing ----- */

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const FIXTURES = fixturesDir();
const FIXTURE_NAMES = ['gpt2-world-a', 'llama-world-a'];

function fixtureDir(name: string): string | null {
  const shared = path.join(FIXTURES, name);
  if (fs.existsSync(path.join(shared, 'config.json'))) return shared;
  if (name === 'gpt2-world-a' && fs.existsSync(path.join(REPO, 'resources/demo-model/config.json'))) return path.join(REPO, 'resources/demo-model');
  return null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function makeContext(fixture: string, dir: string, device: Device): BenchContext {
  const ctx: BenchContext = {
    fixture,
    dir,
    device,
    model: null,
    requireModel() {
      if (!ctx.model) ctx.model = LoadedModel.open(dir, { device });
      return ctx.model;
    },
    tokens(n, seed = 1) {
      const m = ctx.requireModel();
      const special = new Set([m.cfg.bosTokenId, m.cfg.eosTokenId].filter((x) => x !== undefined));
      const V = m.cfg.vocabSize;
      let s = seed * 2654435761;
      const out: number[] = [];
      while (out.length < n) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const id = 3 + (s % (V - 3));
        if (!special.has(id)) out.push(id);
      }
      return out;
    },
    async time(fn, opts = {}) {
      for (let i = 0; i < (opts.warmup ?? 1); i++) await fn();
      const ts: number[] = [];
      for (let i = 0; i < (opts.reps ?? 3); i++) {
        const t0 = performance.now();
        await fn();
        ts.push(performance.now() - t0);
      }
      return median(ts);
    },
  };
  return ctx;
}

interface CaseResult {
  fixture: string;
  device: Device;
  sections: Record<string, Record<string, number | string>>;
  peak_rss_mb: number;
  /** the checkpoint's weight bytes (MiB), the unit of the memory budget ("How memory is used") */
  weight_mb?: number;
  error?: string;
}

/** Child-process side: one fixture on one device. */
async function runCase(fixture: string, device: Device, only: string[] | null): Promise<CaseResult> {
  for (const m of BENCH_MODULES) await import(pathToFileURL(path.resolve(HERE, m)).href);
  const dir = fixtureDir(fixture);
  if (!dir) throw new Error(`fixture ${fixture} not found under ${FIXTURES}`);
  const ctx = makeContext(fixture, dir, device);
  const res: CaseResult = { fixture, device, sections: {}, peak_rss_mb: 0 };
  try {
    for (const s of benchSections) {
      if (only && !only.includes(s.name) && s.name !== 'session') continue;
      res.sections[s.name] = await s.run(ctx);
    }
  } catch (e) {
    res.error = (e as Error).message.split('\n')[0];
  } finally {
    if (ctx.model) res.weight_mb = ctx.model.weightBytes / 2 ** 20;
    await ctx.model?.release();
  }
  res.peak_rss_mb = process.resourceUsage().maxRSS / 1024;
  return res;
}

const MARK = 'BENCH_RESULT ';

function runChild(fixture: string, device: Device, sections: string | undefined): Promise<CaseResult> {
  return new Promise((resolve) => {
    const args = [...process.execArgv, fileURLToPath(import.meta.url), '--case', `${fixture}:${device}`];
    if (sections) args.push('--sections', sections);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(MARK));
      if (line) return resolve(JSON.parse(line.slice(MARK.length)));
      resolve({ fixture, device, sections: {}, peak_rss_mb: 0, error: `case process exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
    });
  });
}

function fmt(v: number | string | undefined, key: string): string {
  if (v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (key.endsWith('_tok_s')) return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  if (key.endsWith('_ms')) return v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return v.toFixed(1);
}

function table(results: CaseResult[]): string {
  const cols: { head: string; get: (r: CaseResult) => string }[] = [
    { head: 'fixture', get: (r) => r.fixture },
    { head: 'device', get: (r) => String(r.sections.session?.device_used ?? r.device) + (r.sections.session?.device_used && r.sections.session.device_used !== r.device ? ` (asked ${r.device})` : '') },
  ];
  const keys: string[] = [];
  for (const r of results) for (const sec of Object.values(r.sections)) for (const k of Object.keys(sec)) if (k !== 'device_used' && k !== 'fallback' && !keys.includes(k)) keys.push(k);
  for (const k of keys)
    cols.push({
      head: k,
      get: (r) => {
        for (const sec of Object.values(r.sections)) if (k in sec) return fmt(sec[k], k);
        return '-';
      },
    });
  cols.push({ head: 'peak_rss_mb', get: (r) => r.peak_rss_mb.toFixed(0) });
  // the budget's unit; on the fixtures (a few MiB of weights) the process's own ~300 MiB dominate the
  // ratio, which means something only at real sizes (`--scale`)
  cols.push({ head: 'weight_mb', get: (r) => (r.weight_mb === undefined ? '-' : r.weight_mb.toFixed(1)) });
  cols.push({ head: 'peak_rss_x_weights', get: (r) => (r.weight_mb ? (r.peak_rss_mb / r.weight_mb).toFixed(1) : '-') });
  const rows = results.map((r) => cols.map((c) => c.get(r)));
  const w = cols.map((c, i) => Math.max(c.head.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  const out = [line(cols.map((c) => c.head)), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)];
  for (const r of results) if (r.error) out.push(`! ${r.fixture} on ${r.device}: ${r.error}`);
  for (const r of results) if (r.sections.session?.fallback) out.push(`! ${r.fixture}: ${r.device} fell back to cpu: ${r.sections.session.fallback}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  // --scale: the real-size memory/speed bench (scripts/bench-scale.ts), its own flags
  if (process.argv.includes('--scale')) {
    const { scaleMain } = await import('./bench-scale');
    return scaleMain(process.argv.slice(2));
  }
  const { values } = parseArgs({
    options: {
      case: { type: 'string' },
      fixture: { type: 'string' },
      device: { type: 'string' },
      sections: { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const only = values.sections ? values.sections.split(',').map((s) => s.trim()) : null;
  if (values.case) {
    const [fixture, device] = values.case.split(':') as [string, Device];
    const res = await runCase(fixture, device, only);
    process.stdout.write(MARK + JSON.stringify(res) + '\n');
    return;
  }
  const fixtures = values.fixture ? values.fixture.split(',') : FIXTURE_NAMES.filter((f) => fixtureDir(f));
  const devices: Device[] = values.device
    ? (values.device.split(',') as Device[])
    : process.env.VK_ICD_FILENAMES
      ? ['cpu', 'webgpu']
      : ['cpu'];
  if (!process.env.VK_ICD_FILENAMES && !values.device) console.error('bench: VK_ICD_FILENAMES is unset, skipping webgpu (source scripts/webgpu-env.sh)');
  const results: CaseResult[] = [];
  for (const fixture of fixtures)
    for (const device of devices) {
      console.error(`bench: ${fixture} on ${device} ...`);
      results.push(await runChild(fixture, device, values.sections));
    }
  console.log(table(results));
  const outFile = path.resolve(REPO, values.out ?? 'bench/results.json');
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const os = await import('node:os');
  fs.writeFileSync(
    outFile,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
        sections: benchSections.map((s) => ({ name: s.name, description: s.description })),
        results,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwrote ${path.relative(process.cwd(), outFile) || outFile}`);
  if (results.some((r) => r.error)) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
