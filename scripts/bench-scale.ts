// `npm run bench -- --scale`: memory and speed at real model sizes (issue 9, item 4), on checkpoints
// with the exact shapes of gpt2-xl and Meta-Llama-3-8B written by scripts/make-shape-checkpoint.ts.
//
//   npm run bench -- --scale [--models gpt2-xl,llama3-8b] [--dir DIR] [--layers N] [--max-steps N]
//       [--stats-samples N] [--phases open,generate,stats,rome,eac-rome] [--rss-limit GiB] [--make]
//       [--device cpu|webgpu|cuda] [--gen-tokens N] [--out bench/scale-results.json]
//
// On a GPU (--device webgpu|cuda) the device bench of issue 17: add --make and it writes the shape
// checkpoints itself; generation makes --gen-tokens (default 32 on a GPU, 8 on the CPU) tokens; each
// phase also reports the provider each session ran on, the weights' device bytes and upload time
// (runtime/device-weights.ts) and the device memory the process holds (nvidia-smi where present,
// else the provider's own figure: the resident weights' bytes). Results are written to the JSON and
// printed after every phase, so a run cut off by a time limit still leaves what it measured.
// scripts/device-bench.sh runs it in one call on a GPU machine.
//
// --dir       where the checkpoints live (<dir>/<model>, or <dir>/<model>-<N>l with --layers N);
//             default $EAC_SCALE_DIR, else .cache/scale in the checkout (git-ignored). --make writes
//             missing ones (6.4 GB / 16 GB).
// --max-steps caps the v* optimisation steps of each edit (ROME: vSteps; EAC-ROME: stage 1 + retraining);
//             --stats-samples caps the statistics samples (the profiles ask for 100 000 × 1024 tokens).
//             Both caps are printed with the results and stored in the JSON.
//
// Every phase runs in a FRESH child process, wrapped in `/usr/bin/time -v` (its "Maximum resident
// set size" is the peak; the parent also polls /proc VmRSS of the child's whole process tree and
// kills it above --rss-limit, default min(20 GiB, MemAvailable − 1 GiB), so one phase cannot take
// the machine down; the kill and the phase it happened in are reported).
//   open      `eac info --model DIR --json`: the CLI, engine worker included, as a user runs it
//   generate  LoadedModel.open, then greedy generation of 8 new tokens (first call builds the session)
//   stats     key statistics of the profile's ROME layer, exactly as an edit computes them
//             (statsProvider → keyStats; cached in <dir>/cache for the edit phases), then the
//             Cholesky factor of C as the edit's update step builds it (SolveCache.choleskyAsync)
//   rome, eac-rome  Editor.edit on one world-a request with the model's profile (as `eac edit`
//             does), phases timed from the Editor's progress events; context templates are produced
//             first through the same cached function the edit then uses, to time them on their own.
//             Then a plain ORT MatMul microbench in the same process gives GFLOP/s for the roofline.
//
// Roofline of one optimisation step: the loss graph re-runs the layers above the edit layer on the
// tapped residual stream, forward and backward (gradient to z only, no weight gradients), for the
// padded [rows × tokens] batch of the rewriting + KL prompts, with logits at the target / KL
// positions. FLOPs = 2 × (forward matmul FLOPs) counted from the shapes (backward through a matmul
// w.r.t. its input costs as much as the forward), attention scores and values included.
import { execSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../src-main/engine/checkpoint';
import { Editor, loadProfile, statsProvider, type EditProfile } from '../src-main/engine/edit';
import { buildEditPrompts } from '../src-main/engine/edit/prompts';
import { SolveCache, solveKey } from '../src-main/engine/edit/stats';
import { readTemplates, templatesPath, writeTemplates } from '../src-main/engine/edit/templates-cache';
import { contextTemplates } from '../src-main/engine/edit/templates';
import { parseFacts } from '../src-main/engine/facts';
import { Graph } from '../src-main/engine/graph/ir';
import { serializeModel } from '../src-main/engine/onnx/writer';
import { fixturesDir, packageRoot } from '../src-main/engine/paths';
import { LoadedModel } from '../src-main/engine/runtime/model';
import type { Device } from '../src-main/engine/runtime/session';
import { deviceCapacity, processGpuBytes } from '../src-main/engine/runtime/device-limits';
import { makeShapeCheckpoint, type ShapeArch } from './make-shape-checkpoint';

// the checkout (packageRoot walks up to package.json: right from scripts/ and from the device bundle alike)
const REPO = packageRoot();
const SELF = fileURLToPath(import.meta.url);
const GiB = 1024 ** 3;
export const SCALE_MODELS: readonly ShapeArch[] = ['gpt2-xl', 'llama3-8b'];
export const SCALE_PHASES = ['open', 'generate', 'stats', 'rome', 'eac-rome'] as const;
export type ScalePhase = (typeof SCALE_PHASES)[number];
/** tokens generated by the generate phase: 8 on the CPU (minutes at LLaMA-3-8B size), 32 on a GPU */
export function defaultGenTokens(device: Device): number {
  return device === 'cpu' ? 8 : 32;
}
const MARK = 'SCALE_RESULT ';
const EVENT = 'SCALE_EVENT ';

export function defaultScaleDir(): string {
  return process.env.EAC_SCALE_DIR ?? path.join(REPO, '.cache', 'scale');
}

export function checkpointDirFor(root: string, model: ShapeArch, layers?: number): string {
  return path.join(root, layers ? `${model}-${layers}l` : model);
}

// ---------------------------------------------------------------------------------------------
// FLOP counts

export interface StepShape {
  /** padded batch rows × padded length */
  rows: number;
  tokens: number;
  /** positions whose logits the loss reads */
  headPositions: number;
}

/** Forward matmul FLOPs of one decoder layer over a padded [rows, T] batch (attention included). */
export function layerForwardFlops(cfg: { arch: string; hidden: number; ffn: number; heads: number; kvHeads: number; headDim: number }, rows: number, T: number): number {
  const d = cfg.hidden;
  const q = cfg.heads * cfg.headDim;
  const kv = cfg.kvHeads * cfg.headDim;
  const proj = cfg.arch === 'gpt2' ? d * (q + 2 * kv) + q * d + 2 * d * cfg.ffn : d * (q + 2 * kv) + q * d + 3 * d * cfg.ffn;
  const tokens = rows * T;
  // QKᵀ and (softmax)V: 2 · T · headDim per head per query token, each
  const attn = 2 * 2 * T * cfg.heads * cfg.headDim;
  return tokens * (2 * proj + attn);
}

/** FLOPs of one optimisation step: forward + backward (to the input only) above the edit layer, head at the needed positions. */
export function stepFlops(cfg: Parameters<typeof layerForwardFlops>[0] & { layers: number; vocabSize: number }, editLayer: number, s: StepShape): number {
  const above = cfg.layers - 1 - editLayer;
  const fwd = above * layerForwardFlops(cfg, s.rows, s.tokens) + 2 * s.headPositions * cfg.hidden * cfg.vocabSize;
  return 2 * fwd;
}

// ---------------------------------------------------------------------------------------------
// Child side

function vmHWM(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS * 1024;
}

function event(phase: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(EVENT + JSON.stringify({ phase, t: performance.now(), rss: process.memoryUsage().rss, ...extra }) + '\n');
}

/** Caps the optimisation steps of `method` at `cap` (ROME: vSteps; EAC: stage 1 + retraining). */
export function capSteps(profile: EditProfile, method: 'rome' | 'eac-rome', cap: number | undefined): { steps: number; capped: boolean } {
  const full = method === 'rome' ? profile.rome.vSteps : profile.eac.scoreStep + profile.eac.rome.retrainSteps;
  if (cap === undefined || cap >= full) return { steps: full, capped: false };
  profile.rome.vSteps = Math.min(profile.rome.vSteps, cap);
  if (method === 'eac-rome') {
    profile.eac.scoreStep = Math.min(profile.eac.scoreStep, Math.max(1, Math.ceil(cap / 2)));
    profile.eac.rome.retrainSteps = Math.max(0, cap - profile.eac.scoreStep);
  }
  return { steps: cap, capped: true };
}

async function matmulGflops(M: number, K: number, N: number): Promise<number> {
  const g = new Graph('mm');
  g.output(g.matmul(g.input('A', 'float32', [M, K]), g.input('B', 'float32', [K, N])), 'Y');
  const s = await ort.InferenceSession.create(serializeModel(g), { graphOptimizationLevel: 'all' });
  const a = new ort.Tensor('float32', Float32Array.from({ length: M * K }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [M, K]);
  const b = new ort.Tensor('float32', Float32Array.from({ length: K * N }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5), [K, N]);
  await s.run({ A: a, B: b });
  const ts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await s.run({ A: a, B: b });
    ts.push(performance.now() - t0);
  }
  await s.release();
  ts.sort((x, y) => x - y);
  return (2 * M * K * N) / (ts[2] / 1000) / 1e9;
}

interface ChildArgs {
  phase: ScalePhase;
  dir: string;
  profile: string;
  cacheDir: string;
  device: Device;
  maxSteps?: number;
  statsSamples?: number;
  genTokens: number;
}

/** Device figures of a phase (GPU only): where sessions ran, the device copy of the weights, memory held. */
function deviceFigures(model: LoadedModel, device: Device, out: Record<string, number | string>): void {
  if (device === 'cpu') return;
  out.device_used = model.deviceReport.used;
  if (model.deviceReport.fallbackReason) out.device_fallback = model.deviceReport.fallbackReason.slice(0, 300);
  const dw = model.deviceWeightsReport();
  if (dw) {
    out.device_weight_bytes = dw.bytes;
    out.device_weight_tensors = dw.tensors;
    out.device_upload_ms = dw.uploadSeconds * 1000;
  }
  // device bytes equal the file bytes for every dtype uploaded (runtime/device-limits.ts deviceWeightBytes)
  out.device_weight_bytes_model = model.weightBytes;
  const cap = deviceCapacity(model.deviceReport.used);
  if (cap) out.device_name = cap.name;
  const used = processGpuBytes(process.pid);
  if (used !== null) {
    out.device_memory_bytes = used;
    out.device_memory_source = 'nvidia-smi';
  } else if (dw) {
    out.device_memory_bytes = dw.bytes;
    out.device_memory_source = 'provider (resident weights)';
  }
  if (typeof out.device_memory_bytes === 'number')
    out.device_memory_ratio = (out.device_memory_bytes as number) / (out.device_weight_bytes_model as number);
}

function benchProfile(a: ChildArgs, modelLayers: number): EditProfile {
  const p = loadProfile(a.profile);
  if (a.statsSamples) p.stats.samples = Math.min(p.stats.samples, a.statsSamples);
  return fitProfileLayers(p, modelLayers);
}

/**
 * A profile for a checkpoint with fewer layers than the real model (--layers N): every `layer` /
 * `layers` field is clamped to the last layer (lists deduplicated), so the same phases run on a
 * 1- or 2-layer shape checkpoint (the lavapipe run of the device bench). Unchanged at full depth.
 */
export function fitProfileLayers<T>(p: T, modelLayers: number): T {
  const clamp = (l: number) => Math.min(l, modelLayers - 1);
  const walk = (o: unknown): void => {
    if (!o || typeof o !== 'object') return;
    const rec = o as Record<string, unknown>;
    for (const [k, v] of Object.entries(rec)) {
      if (k === 'layer' && typeof v === 'number') rec[k] = clamp(v);
      else if (k === 'layers' && Array.isArray(v) && v.every((x) => typeof x === 'number')) rec[k] = [...new Set(v.map(clamp))];
      else walk(v);
    }
  };
  walk(p);
  return p;
}

async function childMain(a: ChildArgs): Promise<Record<string, number | string>> {
  const out: Record<string, number | string> = {};
  const t0 = performance.now();
  event('open');
  const model = LoadedModel.open(a.dir, { device: a.device });
  out.open_ms = performance.now() - t0;
  let lastUpload = 0;
  model.sessionListeners.add((e) => {
    // one event per 10 % of an upload (the first session on a GPU uploads the weights)
    if (!e.count) return;
    const { done, total } = e.count;
    if (e.state === 'done' || done - lastUpload >= total / 10) {
      lastUpload = e.state === 'done' ? 0 : done;
      event('upload', { bytes: done, total_bytes: total });
    }
  });
  try {
    if (a.device !== 'cpu') {
      event('device');
      const t = performance.now();
      await model.checkDevice();
      out.device_check_ms = performance.now() - t;
    }
    if (a.phase === 'generate') {
      const prompt = model.encode('The Eiffel Tower is located in the city of');
      event('first-token');
      let t = performance.now();
      await model.generate([prompt], 1, { stopIds: [] });
      out.first_token_incl_session_ms = performance.now() - t;
      event('generate');
      t = performance.now();
      await model.generate([prompt], a.genTokens, { stopIds: [] });
      const ms = performance.now() - t;
      out.generate_tokens = a.genTokens;
      out.ms_per_token = ms / a.genTokens;
      out.tokens_per_s = a.genTokens / (ms / 1000);
      out.prompt_tokens = prompt.length;
    } else if (a.phase === 'stats') {
      const profile = benchProfile(a, model.cfg.layers);
      const layer = profile.rome.layer;
      out.layer = layer;
      out.samples = profile.stats.samples;
      event('statistics');
      let t = performance.now();
      const stats = (await statsProvider(model, profile, { cacheDir: a.cacheDir })([layer])).get(layer)!;
      out.statistics_ms = performance.now() - t;
      event('cholesky');
      t = performance.now();
      const F = model.cfg.ffn;
      await new SolveCache().choleskyAsync(solveKey(stats.key, `ridge=${profile.rome.mom2Ridge}`), stats.mom2, F);
      out.cholesky_ms = performance.now() - t;
      out.cholesky_n = F;
    } else {
      const method = a.phase as 'rome' | 'eac-rome';
      const profile = benchProfile(a, model.cfg.layers);
      const cap = capSteps(profile, method, a.maxSteps);
      out.steps_cap = cap.capped ? cap.steps : 'none';
      const worldA = path.join(fixturesDir(), 'world-a', 'edits.json');
      const req = parseFacts('edits.json', fs.readFileSync(worldA, 'utf8')).requests[0];
      event('templates');
      let t = performance.now();
      // generated here without the disk cache: what a model's first edit pays
      const { rome: lengths, seed } = profile.contextTemplates;
      const templates = await contextTemplates(model, lengths, seed);
      out.context_templates_ms = performance.now() - t;
      // what every later edit of the model pays: the file beside the statistics (templates-cache.ts)
      const disk = await templatesPath(model, a.cacheDir, lengths, seed);
      writeTemplates(disk.file, disk.key, lengths, seed, templates);
      t = performance.now();
      const again = readTemplates((await templatesPath(model, a.cacheDir, lengths, seed)).file, disk.key, templates.length);
      out.context_templates_cached_ms = performance.now() - t;
      if (JSON.stringify(again) !== JSON.stringify(templates)) throw new Error('the context templates read back differ from the ones written');
      const set = buildEditPrompts(model, req, templates);
      const rows = [...set.rewrite, ...set.kl];
      const T = Math.max(...rows.map((r) => r.ids.length));
      const shape: StepShape = { rows: rows.length, tokens: T, headPositions: set.rewrite.reduce((n, r) => n + r.targetPositions.length, 0) + set.kl.length };
      const editor = new Editor(model, profile, statsProvider(model, profile, { cacheDir: a.cacheDir }));
      const marks: { phase: string; msg?: string; t: number }[] = [];
      let lastPhase = '';
      t = performance.now();
      const r = await editor.edit(method, [req], {
        onProgress: (p) => {
          marks.push({ phase: p.phase, msg: p.message, t: performance.now() });
          if (p.phase !== lastPhase) event(p.phase);
          lastPhase = p.phase;
        },
      });
      out.edit_total_ms = performance.now() - t;
      marks.push({ phase: 'end', t: performance.now() });
      // phase boundaries from the progress events (see Editor.edit / rome())
      const first = (ph: string, from = 0) => marks.findIndex((m, i) => i >= from && m.phase === ph);
      const iStats = first('statistics');
      const iKeys = first('keys');
      const iUpdate = first('update');
      const iOpt = marks.findIndex((m) => m.phase === 'optimise' || m.phase === 'retrain');
      const iAfter = first('metrics', iUpdate);
      if (iStats > 0) out.metrics_before_ms = marks[iStats].t - marks[0].t;
      if (iKeys >= 0 && iStats >= 0) out.statistics_load_ms = marks[iKeys].t - marks[iStats].t;
      if (iKeys >= 0 && iOpt >= 0) out.loss_setup_and_first_step_ms = marks[iOpt].t - marks[iKeys].t;
      const stepTimes: number[] = [];
      for (let i = iOpt + 1; i < marks.length && (marks[i].phase === 'optimise' || marks[i].phase === 'retrain'); i++) stepTimes.push(marks[i].t - marks[i - 1].t);
      const steps = (r.details as { steps?: number; trace?: unknown[] }).trace?.length ?? (r.details as { steps?: number }).steps ?? stepTimes.length + 1;
      out.steps_run = steps;
      if (stepTimes.length) {
        const sorted = [...stepTimes].sort((x, y) => x - y);
        out.step_median_ms = sorted[Math.floor(sorted.length / 2)];
        // the first step's event also covers the loss set-up: set-up ≈ that interval − a median step
        out.loss_setup_ms = Math.max(0, (out.loss_setup_and_first_step_ms as number) - (out.step_median_ms as number));
      }
      if (iUpdate >= 0 && iAfter >= 0) out.update_incl_cholesky_ms = marks[iAfter].t - marks[iUpdate].t;
      if (iAfter >= 0) out.metrics_after_ms = marks[marks.length - 1].t - marks[iAfter].t;
      for (const [k, v] of Object.entries(r.timings)) out[`editor_${k}_ms`] = v ?? 0;
      out.step_rows = shape.rows;
      out.step_tokens = shape.tokens;
      out.step_head_positions = shape.headPositions;
      const flops = stepFlops(model.cfg, profile.rome.layer, shape);
      out.step_gflop = flops / 1e9;
      event('microbench');
      const gf = await matmulGflops(shape.rows * shape.tokens, model.cfg.hidden, model.cfg.ffn);
      out.matmul_gflops = gf;
      out.matmul_shape = `[${shape.rows * shape.tokens}×${model.cfg.hidden}]·[${model.cfg.hidden}×${model.cfg.ffn}]`;
      if (out.step_median_ms !== undefined) {
        out.roofline_step_ms = (flops / 1e9 / gf) * 1000;
        out.roofline_ratio = (out.step_median_ms as number) / (out.roofline_step_ms as number);
      }
    }
    deviceFigures(model, a.device, out);
  } finally {
    await model.release();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parent side

export interface PhaseResult {
  model: string;
  phase: ScalePhase;
  ok: boolean;
  error?: string;
  wall_s: number;
  /** /usr/bin/time -v Maximum resident set size, or the child's VmHWM, or the polled tree peak */
  peak_rss_bytes: number;
  peak_rss_source: string;
  peak_ratio: number;
  /** the last phase event the child printed (where it was when it ended or was killed) */
  last_event?: string;
  killed_at_bytes?: number;
  metrics: Record<string, number | string>;
}

function memAvailable(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return os.freemem();
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let kids: number[] = [];
    try {
      for (const t of fs.readdirSync(`/proc/${p}/task`))
        kids.push(
          ...fs
            .readFileSync(`/proc/${p}/task/${t}/children`, 'utf8')
            .trim()
            .split(/\s+/)
            .filter(Boolean)
            .map(Number),
        );
    } catch {
      kids = [];
    }
    for (const k of kids) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function runPhase(model: string, phase: ScalePhase, argv: string[], weightBytes: number, rssLimit: number): Promise<PhaseResult> {
  const useTime = fs.existsSync('/usr/bin/time');
  const cmd = useTime ? '/usr/bin/time' : argv[0];
  const args = useTime ? ['-v', ...argv] : argv.slice(1);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env, cwd: REPO });
    let partial = '';
    let resultLine: string | undefined;
    let stderr = '';
    let lastEvent: string | undefined;
    let treePeak = 0;
    let killedAt: number | undefined;
    child.stdout.on('data', (d) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith(EVENT)) lastEvent = JSON.parse(l.slice(EVENT.length)).phase;
        else if (l.startsWith(MARK)) resultLine = l;
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
    });
    const poll = setInterval(() => {
      const pids = descendants(child.pid!);
      const rss = pids.reduce((a, p) => a + rssOf(p), 0) + (useTime ? 0 : rssOf(child.pid!));
      treePeak = Math.max(treePeak, rss);
      if (rss > rssLimit && killedAt === undefined) {
        killedAt = rss;
        // kill the measured processes (not /usr/bin/time, so it still reports their peak)
        for (const p of useTime ? pids : [child.pid!, ...pids]) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    }, 250);
    child.on('close', (code) => {
      clearInterval(poll);
      const wall = (performance.now() - t0) / 1000;
      const timeRss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const line = resultLine ?? (partial.startsWith(MARK) ? partial : undefined);
      const res = line ? (JSON.parse(line.slice(MARK.length)) as { metrics: Record<string, number | string>; hwm: number; error?: string }) : null;
      let peak = treePeak;
      let source = 'polled /proc VmRSS of the process tree';
      if (timeRss) {
        peak = Math.max(Number(timeRss[1]) * 1024, treePeak);
        source = '/usr/bin/time -v';
      } else if (res?.hwm) {
        peak = Math.max(res.hwm, treePeak);
        source = 'VmHWM';
      }
      const tail = stderr
        .split('\n')
        .filter((l) => l.trim() && !/^\s+(\S.*): /.test(l) && !l.startsWith('\tCommand being timed'))
        .slice(-3)
        .join(' | ');
      const error =
        killedAt !== undefined
          ? `killed at ${(killedAt / GiB).toFixed(1)} GiB (limit ${(rssLimit / GiB).toFixed(1)} GiB) during ${lastEvent ?? 'start-up'}`
          : (res?.error ?? (code !== 0 || !res && phase !== 'open' ? `exit ${code}: ${tail}` : undefined));
      resolve({
        model,
        phase,
        ok: !error,
        ...(error ? { error } : {}),
        wall_s: wall,
        peak_rss_bytes: peak,
        peak_rss_source: source,
        peak_ratio: peak / weightBytes,
        ...(lastEvent ? { last_event: lastEvent } : {}),
        ...(killedAt !== undefined ? { killed_at_bytes: killedAt } : {}),
        metrics: res?.metrics ?? {},
      });
    });
  });
}

function fmtMs(v: unknown): string {
  if (typeof v !== 'number') return '-';
  return v >= 10_000 ? `${(v / 1000).toFixed(0)} s` : v >= 1000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`;
}

function summary(r: PhaseResult): string {
  const m = r.metrics;
  if (!r.ok) return `**${r.error}**`;
  switch (r.phase) {
    case 'open':
      return `ok, ${r.wall_s.toFixed(1)} s (CLI incl. node start-up)`;
    case 'generate':
      return `${(m.ms_per_token as number).toFixed(0)} ms/token, ${(m.tokens_per_s as number).toFixed(2)} tok/s (first token incl. session ${fmtMs(m.first_token_incl_session_ms)})`;
    case 'stats':
      return `layer ${m.layer}, ${m.samples} samples: ${fmtMs(m.statistics_ms)}; Cholesky n = ${m.cholesky_n}: ${fmtMs(m.cholesky_ms)}`;
    default:
      return (
        `templates ${fmtMs(m.context_templates_ms)} first time, ${fmtMs(m.context_templates_cached_ms)} from the cache, loss set-up ${fmtMs(m.loss_setup_ms)}, ${m.steps_run} steps × ${fmtMs(m.step_median_ms)}` +
        `, update incl. Cholesky ${fmtMs(m.update_incl_cholesky_ms)}, metrics ${fmtMs(m.metrics_after_ms)} after / ${fmtMs(m.metrics_before_ms)} before; total ${fmtMs(m.edit_total_ms)}`
      );
  }
}

export function scaleTable(results: PhaseResult[]): string {
  const lines = ['| model | phase | result | peak RSS | × weight bytes | step roofline |', '|---|---|---|---|---|---|'];
  for (const r of results) {
    const m = r.metrics;
    const roof =
      typeof m.roofline_ratio === 'number'
        ? `${(m.step_gflop as number).toFixed(0)} GFLOP ÷ ${(m.matmul_gflops as number).toFixed(1)} GFLOP/s = ${fmtMs(m.roofline_step_ms)}; measured ${fmtMs(m.step_median_ms)} = ${(m.roofline_ratio as number).toFixed(2)}×`
        : '';
    lines.push(`| ${r.model} | ${r.phase} | ${summary(r)}${deviceLine(r)} | ${(r.peak_rss_bytes / GiB).toFixed(2)} GiB | ${r.peak_ratio.toFixed(2)} | ${roof} |`);
  }
  return lines.join('\n');
}

export async function scaleMain(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'boolean' },
      child: { type: 'string' },
      'model-dir': { type: 'string' },
      profile: { type: 'string' },
      'cache-dir': { type: 'string' },
      models: { type: 'string' },
      dir: { type: 'string' },
      layers: { type: 'string' },
      'max-steps': { type: 'string' },
      'stats-samples': { type: 'string' },
      phases: { type: 'string' },
      'rss-limit': { type: 'string' },
      device: { type: 'string' },
      'gen-tokens': { type: 'string' },
      make: { type: 'boolean' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const int = (k: 'layers' | 'max-steps' | 'stats-samples' | 'gen-tokens'): number | undefined => {
    const v = values[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a positive integer, got ${v}`);
    return n;
  };
  const device = (values.device ?? 'cpu') as Device;
  if (!['cpu', 'webgpu', 'cuda'].includes(device)) throw new Error(`--device must be cpu, webgpu or cuda, got ${values.device}`);
  const genTokens = int('gen-tokens') ?? defaultGenTokens(device);
  if (values.child) {
    const a: ChildArgs = {
      phase: values.child as ScalePhase,
      dir: values['model-dir']!,
      profile: values.profile!,
      cacheDir: values['cache-dir']!,
      device,
      maxSteps: int('max-steps'),
      statsSamples: int('stats-samples'),
      genTokens,
    };
    let metrics: Record<string, number | string> = {};
    let error: string | undefined;
    try {
      metrics = await childMain(a);
    } catch (e) {
      error = (e as Error).message.split('\n')[0];
    }
    process.stdout.write(MARK + JSON.stringify({ metrics, hwm: vmHWM(), ...(error ? { error } : {}) }) + '\n');
    return;
  }
  // the commit measured: HEAD when the run starts (other work may land while it runs)
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: REPO, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    /* not a checkout */
  }
  const models = (values.models ?? SCALE_MODELS.join(',')).split(',').map((s) => s.trim()) as ShapeArch[];
  for (const m of models) if (!SCALE_MODELS.includes(m)) throw new Error(`unknown model ${m} (${SCALE_MODELS.join(', ')})`);
  const phases = (values.phases ?? SCALE_PHASES.join(',')).split(',').map((s) => s.trim()) as ScalePhase[];
  for (const p of phases) if (!SCALE_PHASES.includes(p)) throw new Error(`unknown phase ${p} (${SCALE_PHASES.join(', ')})`);
  const root = path.resolve(values.dir ?? defaultScaleDir());
  const layers = int('layers');
  const maxSteps = int('max-steps');
  const statsSamples = int('stats-samples');
  const results: PhaseResult[] = [];
  const runs: Record<string, unknown>[] = [];
  for (const model of models) {
    const dir = checkpointDirFor(root, model, layers);
    if (!fs.existsSync(path.join(dir, 'config.json'))) {
      if (!values.make) throw new Error(`${dir} has no checkpoint: write it with --make, or npx tsx scripts/make-shape-checkpoint.ts --arch ${model} --out ${dir}${layers ? ` --layers ${layers}` : ''}`);
      console.error(`bench --scale: writing ${model} to ${dir} ...`);
      makeShapeCheckpoint(model, dir, { layers });
    }
    const ck = loadCheckpoint(dir);
    const weightBytes = [...ck.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
    const cacheDir = path.join(root, 'cache');
    const profile = model;
    const prof = loadProfile(profile);
    runs.push({
      model,
      dir,
      layers: ck.config.layers,
      weight_bytes: weightBytes,
      dtypes: [...new Set([...ck.tensors.values()].map((t) => t.dtype))],
      profile,
      edit_layer: prof.rome.layer,
      stats_samples: statsSamples ? Math.min(statsSamples, prof.stats.samples) : prof.stats.samples,
      stats_samples_capped: !!statsSamples && statsSamples < prof.stats.samples,
      max_steps: maxSteps ?? null,
    });
    for (const phase of phases) {
      const limit = values['rss-limit'] ? Number(values['rss-limit']) * GiB : Math.min(20 * GiB, memAvailable() - GiB);
      console.error(`bench --scale: ${model} ${phase} (rss limit ${(limit / GiB).toFixed(1)} GiB, MemAvailable ${(memAvailable() / GiB).toFixed(1)} GiB) ...`);
      const argv =
        phase === 'open'
          ? [process.execPath, path.join(REPO, 'bin', 'eac.mjs'), 'info', '--model', dir, '--json']
          : [
              process.execPath,
              ...process.execArgv,
              SELF,
              '--child',
              phase,
              '--model-dir',
              dir,
              '--profile',
              profile,
              '--cache-dir',
              cacheDir,
              '--device',
              device,
              ...(maxSteps ? ['--max-steps', String(maxSteps)] : []),
              ...(statsSamples ? ['--stats-samples', String(statsSamples)] : []),
              '--gen-tokens',
              String(genTokens),
            ];
      const r = await runPhase(model, phase, argv, weightBytes, limit);
      results.push(r);
      console.error(`  ${r.ok ? 'ok' : 'FAILED'} in ${r.wall_s.toFixed(1)} s, peak ${(r.peak_rss_bytes / GiB).toFixed(2)} GiB (${r.peak_ratio.toFixed(2)}× weights)${deviceLine(r)}${r.error ? `: ${r.error}` : ''}`);
      // after every phase: a run cut off by a time limit keeps what it measured
      writeResults(false);
    }
  }
  writeResults(true);
  if (results.some((r) => !r.ok)) process.exitCode = 1;

  function writeResults(final: boolean): void {
    const table = scaleTable(results);
    if (final) console.log(table);
    const outFile = path.resolve(REPO, values.out ?? 'bench/scale-results.json');
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(
      outFile,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          commit,
          complete: final,
          node: process.version,
          cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
          mem_total_gib: os.totalmem() / GiB,
          load_avg_at_end: os.loadavg(),
          device,
          gen_tokens: genTokens,
          runs,
          results,
          table,
        },
        null,
        2,
      ) + '\n',
    );
    if (final) console.log(`\nwrote ${path.relative(process.cwd(), outFile) || outFile} (commit ${commit})`);
  }
}

/** The device part of a phase's progress line (GPU runs). */
function deviceLine(r: PhaseResult): string {
  const m = r.metrics;
  if (typeof m.device_used !== 'string') return '';
  const mem = typeof m.device_memory_bytes === 'number' ? `, device ${(m.device_memory_bytes / GiB).toFixed(2)} GiB (${(m.device_memory_ratio as number).toFixed(2)}× device weights, ${m.device_memory_source})` : '';
  const tps = typeof m.tokens_per_s === 'number' ? `, ${m.tokens_per_s.toFixed(1)} tok/s` : '';
  return `; ran on ${m.device_used}${mem}${tps}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === SELF) {
  await scaleMain(process.argv.slice(2));
}

