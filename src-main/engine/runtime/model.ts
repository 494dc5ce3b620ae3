// The resident model: checkpoint + tokenizer + its sessions and caches (built lazily, evicted under
// the memory budget, released with it) + the live low-rank edit factors.
import * as ort from 'onnxruntime-node';
import { Checkpoint, loadCheckpoint } from '../checkpoint';
import type { Graph } from '../graph/ir';
import { buildForward, ForwardSpec } from '../models/forward';
import { loadTokenizer, TextCodec } from '../tokenizer';
import { defaultMemoryBudget, ManagedSession, MemoryManager, ModelCaches, type SessionHost } from './memory';
import { Device, DeviceReport, probeDevice, type SessionSettings } from './session';
import { DeviceWeights, type DeviceWeightsReport, type UploadProgress } from './device-weights';
import { checkDeviceFits } from './device-limits';
import { profilePlacement, type PlacementReport } from './placement';
import { cancelledError, EacError, internalError } from '../errors';
import { positionLimit } from '../architectures';
import type { ProgressCount } from '../progress';

export const NEG_INF = -1e9;

/** A session being built, or the weights being uploaded to a GPU (with a count), for progress displays. */
export interface SessionBuildEvent {
  kind: string;
  state: 'start' | 'done';
  count?: ProgressCount;
}

/**
 * Low-rank change of one layer's MLP output projection, ΔW = U Vᵀ with W mapping d_ff -> d.
 * Stored transposed (rows = rank) so stacking edits is appending rows.
 */
export interface LayerFactors {
  rank: number;
  /** [rank, d_ff] row-major */
  Vt: Float32Array;
  /** [rank, d] row-major */
  Ut: Float32Array;
}

export interface Batch {
  ids: BigInt64Array;
  positions: BigInt64Array;
  /** 1 for real tokens, 0 for left padding; [B, T] */
  real: Uint8Array;
  B: number;
  T: number;
}

/** Left-pad ragged rows into one batch. */
export function makeBatch(rows: number[][]): Batch {
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.length));
  if (T === 0) throw new EacError('bad_params', 'cannot run an empty prompt');
  const ids = new BigInt64Array(B * T);
  const positions = new BigInt64Array(B * T);
  const real = new Uint8Array(B * T);
  rows.forEach((r, b) => {
    const pad = T - r.length;
    r.forEach((id, i) => {
      ids[b * T + pad + i] = BigInt(id);
      positions[b * T + pad + i] = BigInt(i);
      real[b * T + pad + i] = 1;
    });
  });
  return { ids, positions, real, B, T };
}

/** Additive causal bias [B,1,T,P+T] for queries at absolute slots P..P+T-1 over keys 0..P+T-1. */
export function causalBias(realKeys: Uint8Array, B: number, S: number, T: number, dtype: 'float32' | 'float64'): ort.Tensor {
  const P = S - T;
  const data = dtype === 'float64' ? new Float64Array(B * T * S) : new Float32Array(B * T * S);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let s = 0; s < S; s++) data[(b * T + t) * S + s] = s <= P + t && realKeys[b * S + s] ? 0 : NEG_INF;
  return new ort.Tensor(dtype, data, [B, 1, T, S]);
}

/** Token, position and causal-bias inputs of a no-cache forward over a whole batch. */
export function batchFeeds(batch: Batch, dtype: 'float32' | 'float64'): Record<string, ort.Tensor> {
  const { B, T } = batch;
  return {
    input_ids: new ort.Tensor('int64', batch.ids, [B, T]),
    position_ids: new ort.Tensor('int64', batch.positions, [B, T]),
    attn_bias: causalBias(batch.real, B, T, T, dtype),
  };
}

export interface OpenOptions {
  device?: Device;
  /** prepacked MatMul weights (faster, a second copy per session); default: on below 2 GiB of weights, or $EAC_PREPACK=0|1 */
  prepack?: boolean;
  /**
   * onnxruntime's CPU arena per session (default on): it keeps a session's peak of temporaries for
   * reuse, but without it glibc's allocator kept far more (5.5 GB of freed layer temporaries after
   * a GPT-2 XL loss evaluation, against 1.1 GB held by the arenas); releasing a session frees it
   */
  arena?: boolean;
  /**
   * resident-memory budget of the process in bytes: sessions and sized caches are evicted (least
   * recently used first) to stay under it; default $EAC_MAX_MEMORY, else 1.2× the weight bytes
   * (at least 2 GiB) capped at 85 % of the machine's RAM (memory.ts defaultMemoryBudget)
   */
  maxMemory?: number;
  /**
   * WebGPU: the most bytes one part of a graph may allocate before the graph runs as a chain of
   * sessions (runtime/partition.ts); default $EAC_DEVICE_PART_BYTES, else a tenth of the graph's
   * device weight bytes within [128 MiB, 2 GiB]; 0 runs every graph as one session
   */
  partBytes?: number;
}

/** Above this many weight bytes sessions run without prepacked weights (a second copy per session). */
export const LOW_MEMORY_LIMIT_BYTES = 2 * 1024 ** 3;

export class LoadedModel implements SessionHost {
  readonly factors = new Map<number, LayerFactors>();
  /** every session of this model, by graph key; built on first run */
  private sessions = new Map<string, ManagedSession>();
  readonly memory: MemoryManager;
  /** per-model caches of other modules (freed with the model; sized ones evictable) */
  readonly caches: ModelCaches;
  deviceReport: DeviceReport;
  /** bytes of tensor data in the checkpoint (mapped, never copied) */
  readonly weightBytes: number;
  private released = false;
  /** the one device copy of the weights every session takes its weights from (WebGPU) */
  private dw: DeviceWeights | null = null;
  /**
   * Progress of a weight upload (the first session on a GPU uploads what it needs): reported to the
   * session listeners as kind 'weights' with the bytes done / total, so the CLI and the app show it
   * like a session build.
   */
  onUploadProgress = (p: UploadProgress): void => {
    const e: SessionBuildEvent = {
      kind: `weights to ${this.deviceReport.used}`,
      state: p.done === p.total ? 'done' : 'start',
      count: { done: p.bytes, total: p.totalBytes, unit: 'bytes' },
    };
    for (const l of this.sessionListeners) l(e);
  };

  private constructor(
    readonly ck: Checkpoint,
    readonly tok: TextCodec,
    readonly device: Device,
    readonly prepack: boolean,
    readonly arena: boolean,
    maxMemory: number,
    readonly partBytes?: number,
  ) {
    this.weightBytes = [...ck.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
    this.memory = new MemoryManager(maxMemory);
    this.caches = new ModelCaches(this.memory);
    this.deviceReport = { requested: device, used: device };
  }

  static open(dir: string, opts: OpenOptions = {}): LoadedModel {
    const ck = loadCheckpoint(dir);
    // token ids are checked against the embedding's vocab_size at open (tokenizer.json is untrusted)
    const tok = loadTokenizer(dir, { vocabSize: ck.config.vocabSize });
    const weightBytes = [...ck.tensors.values()].reduce((a, t) => a + t.byteLength, 0);
    const env = process.env.EAC_PREPACK;
    const small = weightBytes < LOW_MEMORY_LIMIT_BYTES;
    const prepack = opts.prepack ?? (env === '0' ? false : env === '1' ? true : small);
    const partEnv = process.env.EAC_DEVICE_PART_BYTES;
    const partBytes = opts.partBytes ?? (partEnv && /^\d+$/.test(partEnv) ? Number(partEnv) : undefined);
    return new LoadedModel(ck, tok, opts.device ?? 'cpu', prepack, opts.arena ?? true, opts.maxMemory ?? defaultMemoryBudget(weightBytes), partBytes);
  }

  /**
   * Checks that the requested device can start (a one-node probe, no weights) and records the
   * fallback to CPU when it cannot; CPU needs no check. Opening never builds a model session.
   */
  async checkDevice(): Promise<DeviceReport> {
    if (this.device === 'cpu' || this.probed) return this.deviceReport;
    this.deviceReport = await probeDevice(this.device);
    this.probed = true;
    // refuse before anything is uploaded when the weights and the working set cannot fit
    if (this.deviceReport.used !== 'cpu') checkDeviceFits(this.ck, this.deviceReport.used);
    return this.deviceReport;
  }

  private probed = false;

  // ---- SessionHost ----
  get weightsDir(): string {
    return this.ck.dir;
  }

  sessionDevice(): Device {
    return this.deviceReport.used;
  }

  sessionSettings(): SessionSettings {
    return { prepack: this.prepack, arena: this.arena, foldNonWeights: this.prepack, partBytes: this.partBytes };
  }

  expectedSessionBytes(): number {
    let max = 0;
    for (const s of this.sessions.values()) max = Math.max(max, s.overhead);
    return max;
  }

  /**
   * Who wants to know when a session is being built (the CLI prints it, the worker sends it as
   * progress): `kind` is the graph family (forward, loss), `state` start or done.
   */
  readonly sessionListeners = new Set<(e: SessionBuildEvent) => void>();

  onSessionBuild(label: string, state: 'start' | 'done'): void {
    const kind = label.slice(0, Math.max(0, label.indexOf(':'))) || label;
    for (const l of this.sessionListeners) l({ kind, state });
  }

  onSessionCreated(report: DeviceReport): void {
    // the first fallback decides the device for every later session (no retry per session)
    if (report.used !== this.deviceReport.used) {
      this.deviceReport = { ...report, requested: this.device };
      const dw = this.dw;
      this.dw = null;
      void dw?.release();
    }
  }

  deviceWeights(): DeviceWeights | null {
    // only WebGPU can keep a tensor on the device between runs from Node (DESIGN §4a): CUDA outputs
    // come back to the host, so CUDA sessions keep their weights as initializers and run one at a
    // time instead (exclusiveSessions)
    if (this.deviceReport.used !== 'webgpu' || this.released) return null;
    if (!this.dw)
      this.dw = new DeviceWeights('webgpu', this.ck.dir, async (bytes) => {
        await this.memory.makeRoom(bytes);
      });
    return this.dw;
  }

  /** CUDA: one weight-holding session on the device at a time, so its memory holds the weights once. */
  exclusiveSessions(): boolean {
    return this.deviceReport.used === 'cuda';
  }

  /** What the model holds on its device: resident weights, their bytes, dtype conversions made at upload. */
  deviceWeightsReport(): DeviceWeightsReport | null {
    return this.dw?.report() ?? null;
  }


  get cfg() {
    return this.ck.config;
  }

  /** Prompt ids; an empty prompt becomes [bos] so generation has something to condition on. */
  encode(text: string): number[] {
    const ids = this.tok.encode(text);
    if (ids.length === 0 && this.cfg.bosTokenId !== undefined) return [this.cfg.bosTokenId];
    return ids;
  }

  allLayers(): number[] {
    return [...Array(this.cfg.layers).keys()];
  }

  /**
   * Tap-only forwards (logits 'none') share one session per dtype whose taps cover every layer
   * asked for so far: each session holds its own copy of the weights, so one session instead of
   * one per tap combination. Callers that know their layers up front reserve them (Editor does).
   */
  reserveTapLayers(layers: number[]): void {
    for (const l of layers) this.tapLayers.add(l);
  }

  private tapLayers = new Set<number>();

  private canonical(spec: ForwardSpec): ForwardSpec {
    const taps = [...(spec.tapKeys ?? []), ...(spec.tapMlpOut ?? []), ...(spec.tapResid ?? [])];
    // one decoding session serves generation, prompt logits and teacher-forced metrics: logits at
    // the rows each call asks for ('last' is the same graph fed the last rows)
    if (spec.kvCache && !taps.length && !spec.keyMoments?.length && (spec.dtype ?? 'float32') === 'float32')
      return { kvCache: true, logits: 'rows' };
    if (spec.logits !== 'none' || spec.kvCache || spec.keyMoments?.length || taps.length === 0) return spec;
    this.reserveTapLayers(taps);
    const all = [...this.tapLayers].sort((a, b) => a - b);
    return { dtype: spec.dtype ?? 'float32', logits: 'none', tapKeys: all, tapMlpOut: all, tapResid: all };
  }

  /**
   * The session of a forward graph, keyed by its spec; every layer takes edit factors so editing
   * never rebuilds a session. Nothing is built until the first run (or `ready()`).
   */
  async session(spec: ForwardSpec): Promise<ManagedSession> {
    const full: ForwardSpec = { ...this.canonical(spec), editLayers: this.allLayers() };
    return this.graphSession(`forward:${JSON.stringify(full)}`, () => buildForward(this.ck, full).graph);
  }

  /** A session of any graph over this model's weights (loss graphs…), owned and released by the model. */
  graphSession(key: string, build: () => Graph): ManagedSession {
    if (this.released) throw internalError('the model was released');
    let s = this.sessions.get(key);
    if (!s) {
      s = new ManagedSession(key, build, this);
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Sessions of this model: how many exist, how many are built now, how often they were built. */
  sessionStats(): { known: number; live: number; builds: number; evictions: number; parts: number } {
    const all = [...this.sessions.values()];
    return {
      known: all.length,
      live: all.filter((s) => s.live).length,
      // onnxruntime sessions behind the live graphs: more than `live` where a graph runs in parts on a GPU
      parts: all.reduce((a, s) => a + (s.live ? s.parts : 0), 0),
      builds: all.reduce((a, s) => a + s.builds, 0),
      evictions: this.memory.events.filter((e) => e.kind === 'evict').length,
    };
  }

  /**
   * Factor feeds for every layer (a zero rank-1 pair where a layer has no edit); `base` feeds zeros
   * everywhere, i.e. the unedited model.
   */
  factorFeeds(dtype: 'float32' | 'float64' = 'float32', opts: { base?: boolean } = {}): Record<string, ort.Tensor> {
    const { ffn, hidden } = this.cfg;
    const feeds: Record<string, ort.Tensor> = {};
    const conv = (a: Float32Array) => (dtype === 'float64' ? Float64Array.from(a) : a);
    for (const l of this.allLayers()) {
      const f = opts.base ? undefined : this.factors.get(l);
      if (f && f.rank > 0) {
        feeds[`edit_Vt_${l}`] = new ort.Tensor(dtype, conv(f.Vt), [f.rank, ffn]);
        feeds[`edit_Ut_${l}`] = new ort.Tensor(dtype, conv(f.Ut), [f.rank, hidden]);
      } else {
        feeds[`edit_Vt_${l}`] = new ort.Tensor(dtype, conv(new Float32Array(ffn)), [1, ffn]);
        feeds[`edit_Ut_${l}`] = new ort.Tensor(dtype, conv(new Float32Array(hidden)), [1, hidden]);
      }
    }
    return feeds;
  }

  /**
   * One forward pass over left-padded rows without cache. With `logits: 'rows'`, `logitRows` are
   * the flat positions (b·T + t of the padded batch) whose logits come back, in that order.
   */
  async run(
    rows: number[][],
    spec: ForwardSpec,
    opts: { logitRows?: number[] } = {},
  ): Promise<{ batch: Batch; out: ort.InferenceSession.OnnxValueMapType }> {
    const dtype = spec.dtype ?? 'float32';
    const batch = makeBatch(rows);
    const s = await this.session({ ...spec, kvCache: false });
    const feeds = { ...batchFeeds(batch, dtype), ...this.factorFeeds(dtype) };
    if (spec.logits === 'rows') feeds.logit_rows = rowsTensor(opts.logitRows ?? []);
    const out = await s.run(feeds);
    return { batch, out };
  }

  /**
   * Logits [positions.length, V] at flat positions of the left-padded batch of `rows`, through the
   * decoding session (one session for generation, prompt logits and teacher-forced metrics).
   */
  async logitsAt(rows: number[][], positions: (batch: Batch) => number[]): Promise<{ batch: Batch; logits: Float32Array }> {
    const batch = makeBatch(rows);
    // only the logits come back: the new K/V of every layer would be copied out for nothing
    const res = await (await this.session({ kvCache: true, logits: 'rows' })).run(
      { ...this.prefillFeeds(batch), logit_rows: rowsTensor(positions(batch)), ...this.factorFeeds() },
      ['logits'],
    );
    return { batch, logits: res.logits.data as Float32Array };
  }

  /** Last-position logits for each prompt. */
  async lastLogits(rows: number[][]): Promise<Float32Array[]> {
    const { logits } = await this.logitsAt(rows, (b) => rows.map((_, i) => i * b.T + b.T - 1));
    const V = this.cfg.vocabSize;
    return rows.map((_, b) => logits.slice(b * V, (b + 1) * V));
  }

  /**
   * Where the nodes of the decoding graph (the graph generation, prompt logits and metrics run) really
   * run on this model's device: a profiled copy of its session, run once on a one-token prompt, then
   * released. Its weights come from the device copy, so it uploads nothing new.
   */
  async placement(): Promise<PlacementReport & { device: Device }> {
    await this.checkDevice();
    const device = this.deviceReport.used;
    const full: ForwardSpec = { kvCache: true, logits: 'rows', editLayers: this.allLayers() };
    const graph = buildForward(this.ck, full).graph;
    const dw = this.deviceWeights();
    const onDevice = dw ? await dw.feedsFor(graph, this.onUploadProgress) : null;
    const batch = makeBatch([this.encode('The')]);
    const feeds = { ...onDevice?.feeds, ...this.prefillFeeds(batch), logit_rows: rowsTensor([batch.T - 1]), ...this.factorFeeds() };
    const report = await profilePlacement(graph, this.ck.dir, device, this.sessionSettings(), onDevice?.inputs, feeds);
    return { device, ...report };
  }

  /** Inputs of the KV-cache graph for a first pass over a whole batch (empty past). */
  private prefillFeeds(batch: Batch): Record<string, ort.Tensor> {
    return { ...batchFeeds(batch, 'float32'), ...this.emptyPast(batch.B) };
  }

  private emptyPast(B: number): Record<string, ort.Tensor> {
    const cfg = this.cfg;
    const past: Record<string, ort.Tensor> = {};
    for (let l = 0; l < cfg.layers; l++) {
      past[`past_key_${l}`] = new ort.Tensor('float32', new Float32Array(0), [B, cfg.kvHeads, 0, cfg.headDim]);
      past[`past_value_${l}`] = new ort.Tensor('float32', new Float32Array(0), [B, cfg.kvHeads, 0, cfg.headDim]);
    }
    return past;
  }

  /** Greedy decoding with a KV cache; stops a row at `stopIds` (defaults to EOS). */
  async generate(
    rows: number[][],
    maxNewTokens: number,
    // sample.rand gets the row and step so a caller can batch rows and still give each row the draws
    // it would have had alone (context templates stay the same whatever the batching)
    opts: {
      stopIds?: number[];
      signal?: AbortSignal;
      sample?: { topK: number; rand: (row: number, step: number) => number };
      /** after each generated token: (tokens generated so far, maxNewTokens) */
      onToken?: (done: number, total: number) => void;
    } = {},
  ): Promise<number[][]> {
    const cfg = this.cfg;
    const stop = new Set(opts.stopIds ?? (cfg.eosTokenId !== undefined ? [cfg.eosTokenId] : []));
    const maxLen = Math.max(...rows.map((r) => r.length)) + maxNewTokens;
    const limit = positionLimit(cfg);
    if (limit !== undefined && maxLen > limit) throw new EacError('input_too_long', `prompt + ${maxNewTokens} new tokens = ${maxLen} exceeds the model's ${limit} positions`);
    const s = await this.session({ kvCache: true, logits: 'rows' });
    const batch = makeBatch(rows);
    const { B } = batch;
    let past = this.emptyPast(B);
    const factorFeeds = this.factorFeeds();
    let realKeys = batch.real;
    let ids = batch.ids;
    let positions = batch.positions;
    let T = batch.T;
    let S = T;
    const nextPos = rows.map((r) => r.length);
    const out: number[][] = rows.map(() => []);
    const done = rows.map(() => maxNewTokens === 0);
    const V = cfg.vocabSize;
    const sample = opts.sample;
    for (let step = 0; step < maxNewTokens && done.some((d) => !d); step++) {
      if (opts.signal?.aborted) throw cancelledError('generation cancelled', opts.signal.reason);
      const res = await s.run({
        input_ids: new ort.Tensor('int64', ids, [B, T]),
        position_ids: new ort.Tensor('int64', positions, [B, T]),
        attn_bias: causalBias(realKeys, B, S, T, 'float32'),
        logit_rows: rowsTensor(rows.map((_, b) => b * T + T - 1)),
        ...past,
        ...factorFeeds,
      });
      const logits = res.logits.data as Float32Array;
      const nextIds = new BigInt64Array(B);
      const nextPositions = new BigInt64Array(B);
      for (let b = 0; b < B; b++) {
        const row = logits.subarray(b * V, (b + 1) * V);
        const best = sample ? sampleTopK(row, sample.topK, () => sample.rand(b, step)) : argmax(row);
        if (!done[b]) {
          out[b].push(best);
          if (stop.has(best)) done[b] = true;
        }
        nextIds[b] = BigInt(best);
        nextPositions[b] = BigInt(nextPos[b]++);
      }
      past = {};
      for (let l = 0; l < cfg.layers; l++) {
        past[`past_key_${l}`] = res[`present_key_${l}`];
        past[`past_value_${l}`] = res[`present_value_${l}`];
      }
      const grown = new Uint8Array(B * (S + 1));
      for (let b = 0; b < B; b++) {
        grown.set(realKeys.subarray(b * S, (b + 1) * S), b * (S + 1));
        grown[b * (S + 1) + S] = 1;
      }
      realKeys = grown;
      opts.onToken?.(step + 1, maxNewTokens);
      S += 1;
      T = 1;
      ids = nextIds;
      positions = nextPositions;
    }
    return out;
  }

  /** Releases every session and cache of the model; it cannot run afterwards. */
  async release(): Promise<void> {
    this.released = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await s.dispose().catch(() => {});
    this.caches.clear();
    // after the sessions that took them as inputs
    const dw = this.dw;
    this.dw = null;
    await dw?.release();
  }
}

function rowsTensor(rows: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows, (r) => BigInt(r)), [rows.length]);
}

export interface TopToken {
  id: number;
  token: string;
  logit: number;
  prob: number;
}

/** The k most likely next tokens with softmax probabilities. */
export function topTokens(lg: ArrayLike<number>, k: number, decode: (ids: number[]) => string): TopToken[] {
  let max = -Infinity;
  for (let i = 0; i < lg.length; i++) if (lg[i] > max) max = lg[i];
  let z = 0;
  for (let i = 0; i < lg.length; i++) z += Math.exp(lg[i] - max);
  return Array.from({ length: lg.length }, (_, i) => i)
    .sort((a, b) => lg[b] - lg[a])
    .slice(0, Math.min(k, lg.length))
    .map((id) => ({ id, token: decode([id]), logit: lg[id], prob: Math.exp(lg[id] - max) / z }));
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
  return best;
}

/** Sample from the softmax over the k largest logits (ROME's generate_fast uses top-k 5). */
export function sampleTopK(row: ArrayLike<number>, k: number, rand: () => number): number {
  // one pass keeping the k best in descending order (ties: lower index first, as a stable sort of
  // the whole vocabulary gave) instead of sorting 50k-128k logits per row per step
  const idx: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (idx.length === k) {
      if (!(v > row[idx[k - 1]])) continue;
      idx.pop();
    }
    let j = idx.length;
    while (j > 0 && v > row[idx[j - 1]]) j--;
    idx.splice(j, 0, i);
  }
  const m = row[idx[0]];
  const w = idx.map((i) => Math.exp(row[i] - m));
  let u = rand() * w.reduce((a, b) => a + b, 0);
  for (let j = 0; j < idx.length; j++) if ((u -= w[j]) <= 0) return idx[j];
  return idx[idx.length - 1];
}

/** Deterministic PRNG (mulberry32) so context templates are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
