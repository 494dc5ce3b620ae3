// What a loaded model holds beside its mapped weights — onnxruntime sessions and per-model caches —
// and the memory budget they live under (README "How memory is used").
//
// Every session is a ManagedSession: built on its first run (never at open), owned by one
// LoadedModel, released with it, and evictable: when building a session or filling a cache would
// take the process's resident memory over the budget, idle sessions and sized cache entries are
// released least recently used first. An evicted session is rebuilt transparently on its next run,
// so callers never hold a raw ort.InferenceSession across calls.
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { CheckpointError } from '../checkpoint/errors';
import type { Graph } from '../graph/ir';
import type { DeviceWeights, UploadProgress } from './device-weights';
import { createSession, mappedWeightBytes, releaseSession, type Device, type DeviceReport, type SessionSettings } from './session';
import { PartitionedSession, type RunnableSession } from './partition';

/** Resident set size of this process (bytes); mapped weight pages that were touched count too. */
export function processRss(): number {
  return process.memoryUsage.rss();
}

/**
 * Default budget: $EAC_MAX_MEMORY, else 1.2× the checkpoint's weight bytes (at least 2 GiB), capped
 * at 85 % of the machine's RAM.
 *
 * Why a multiple of the weights and not simply most of the RAM: onnxruntime maps the external data
 * of each session separately, so a weight page touched through two live sessions is counted twice
 * in the resident size (and by the OOM killer), though it is one page of the page cache. Keeping the
 * resident size near the weight bytes means one live session per weight at a time on big models —
 * the others are released and rebuilt (a rebuild maps, it copies nothing) — while small models keep
 * all their sessions.
 */
export function defaultMemoryBudget(weightBytes = 0): number {
  const env = process.env.EAC_MAX_MEMORY;
  if (env) return parseMemorySize(env);
  return Math.floor(Math.min(os.totalmem() * 0.85, Math.max(2 * 1024 ** 3, 1.2 * weightBytes)));
}

/** "20G", "20GiB", "1500M", "800MB", "12e9" or plain bytes → bytes (binary units). */
export function parseMemorySize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$/.exec(s);
  if (!m) throw new CheckpointError('memory_budget', `cannot read memory size "${s}" (use e.g. 20G, 1500M or a byte count)`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new CheckpointError('memory_budget', `memory size "${s}" must be positive`);
  return bytes;
}

/** Something the budget can free: an idle session or a sized cache entry. */
interface Evictable {
  readonly label: string;
  /** bytes it is believed to hold */
  readonly bytes: number;
  lastUse: number;
  /** whether it holds anything and may be released now */
  evictable(): boolean;
  evict(): Promise<void>;
}

export interface MemoryEvent {
  kind: 'evict';
  label: string;
  bytes: number;
  rss: number;
}

export class MemoryManager {
  private items = new Set<Evictable>();
  private clock = 0;
  readonly events: MemoryEvent[] = [];

  constructor(
    /** resident-memory ceiling of the process, bytes */
    readonly budget: number,
    private readonly rss: () => number = processRss,
  ) {}

  tick(): number {
    return ++this.clock;
  }

  add(e: Evictable): void {
    this.items.add(e);
  }

  remove(e: Evictable): void {
    this.items.delete(e);
  }

  /** Releases every idle session but `keep` (a device that must hold one session's weights at a time). */
  async evictSessions(keep: unknown): Promise<void> {
    for (const e of [...this.items]) {
      if (e === keep || !(e instanceof ManagedSession) || !e.evictable()) continue;
      await e.evict();
      this.events.push({ kind: 'evict', label: e.label, bytes: e.bytes, rss: this.rss() });
    }
  }

  /**
   * Release idle sessions and sized cache entries, least recently used first, until the resident
   * size plus `need` bytes fits the budget or nothing idle is left (`keep` is never released).
   * Returns the bytes released by estimate.
   */
  async makeRoom(need: number, keep?: unknown): Promise<number> {
    let freed = 0;
    while (this.rss() + need > this.budget) {
      const idle = [...this.items].filter((e) => e !== keep && e.evictable()).sort((a, b) => a.lastUse - b.lastUse);
      if (idle.length === 0) break;
      const victim = idle[0];
      await victim.evict();
      freed += victim.bytes;
      this.events.push({ kind: 'evict', label: victim.label, bytes: victim.bytes, rss: this.rss() });
      if (this.events.length > 1000) this.events.splice(0, this.events.length - 1000);
    }
    return freed;
  }
}

export interface SessionHost {
  readonly memory: MemoryManager;
  readonly weightsDir: string;
  /** the device sessions are created on (after any fallback) */
  sessionDevice(): Device;
  sessionSettings(): SessionSettings;
  /** bytes a new session is expected to take (for makeRoom before it is built) */
  expectedSessionBytes(): number;
  onSessionCreated(report: DeviceReport, bytes: number): void;
  /**
   * The device-resident weights sessions take their weights from (runtime/device-weights.ts), when
   * sessions run on a GPU provider that can share them; null on the CPU (weights are mapped).
   */
  deviceWeights?(): DeviceWeights | null;
  /**
   * one weight-holding session on the device at a time (CUDA: the Node binding cannot share device
   * tensors between sessions, so each session owns an upload of its weights; keeping one alive keeps
   * the weights on the device once)
   */
  exclusiveSessions?(): boolean;
  /** progress of a weight upload a session build started (the first session on a device uploads all it needs) */
  onUploadProgress?: (p: UploadProgress) => void;
  /** a session starts / ends being built (building one can take minutes on a big model) */
  onSessionBuild?(label: string, state: 'start' | 'done'): void;
}

/**
 * One graph's session, built lazily and rebuilt after eviction. `run` is the only way to use it,
 * so a caller can never run a released session.
 */
export class ManagedSession implements Evictable {
  private session: Promise<RunnableSession> | null = null;
  /** the weight feeds of a session that takes its weights from the device copy */
  private weightFeeds: Record<string, ort.Tensor> = {};
  private busy = 0;
  /** mapped weight bytes + overhead: what releasing it is expected to give back */
  bytes = 0;
  /** resident growth measured when it was built (graph, kernels, arena) */
  overhead = 0;
  lastUse = 0;
  /** how many times the session was built (1 + rebuilds after eviction) */
  builds = 0;
  /** onnxruntime sessions it runs as (more than 1 where the graph runs in parts on a GPU, runtime/partition.ts) */
  parts = 1;

  constructor(
    readonly label: string,
    private readonly build: () => Graph,
    private readonly host: SessionHost,
  ) {
    host.memory.add(this);
  }

  get live(): boolean {
    return this.session !== null;
  }

  evictable(): boolean {
    return this.session !== null && this.busy === 0;
  }

  /** The underlying session, built (after making room under the budget) if it is not live. */
  private open(): Promise<RunnableSession> {
    if (!this.session) {
      const p = (async () => {
        this.host.onSessionBuild?.(this.label, 'start');
        const graph = this.build();
        const dw = this.host.deviceWeights?.() ?? null;
        // what it will hold once it has run: the weight pages it maps (counted per session, see
        // defaultMemoryBudget) and what sessions have needed beside them so far; on a device the
        // weights are the model's one device copy, uploaded (once) by feedsFor, not the session's
        const mapped = dw ? 0 : mappedWeightBytes(graph);
        await this.host.memory.makeRoom(mapped + this.host.expectedSessionBytes(), this);
        if (this.host.exclusiveSessions?.()) await this.host.memory.evictSessions(this);
        const before = processRss();
        const onDevice = dw ? await dw.feedsFor(graph, this.host.onUploadProgress) : null;
        const afterUpload = processRss();
        const { session, report } = await createSession(
          graph,
          this.host.weightsDir,
          this.host.sessionDevice(),
          this.host.sessionSettings(),
          onDevice?.inputs,
        );
        // a CPU fallback maps the files itself and takes no device tensors
        this.weightFeeds = onDevice && report.used === this.host.sessionDevice() ? onDevice.feeds : {};
        this.overhead = Math.max(0, processRss() - (dw ? afterUpload : before));
        this.bytes = mapped + this.overhead;
        this.builds++;
        this.parts = session instanceof PartitionedSession ? session.partCount : 1;
        this.host.onSessionCreated(report, this.bytes);
        this.host.onSessionBuild?.(this.label, 'done');
        return session;
      })();
      this.session = p;
      p.catch(() => {
        if (this.session === p) this.session = null;
      });
    }
    return this.session;
  }

  /** Builds the session now (callers that want creation time or errors up front). */
  async ready(): Promise<void> {
    this.busy++;
    try {
      await this.open();
    } finally {
      this.busy--;
    }
  }

  async run(feeds: ort.InferenceSession.FeedsType, fetches?: string[]): Promise<ort.InferenceSession.ReturnType> {
    this.busy++;
    try {
      const s = await this.open();
      this.lastUse = this.host.memory.tick();
      const all = { ...this.weightFeeds, ...feeds };
      const out = fetches ? await s.run(all, fetches) : await s.run(all);
      // a run grows the resident size (weight pages touched, the arena's temporaries): if that took
      // the process over the budget, release idle sessions now rather than at the next build
      if (processRss() > this.host.memory.budget) await this.host.memory.makeRoom(0, this);
      return out;
    } finally {
      this.busy--;
    }
  }

  async evict(): Promise<void> {
    const p = this.session;
    this.session = null;
    const s = p && (await p.catch(() => null));
    this.weightFeeds = {};
    if (s) await releaseSession(s);
  }

  /** Release for good (the owner is closing). */
  async dispose(): Promise<void> {
    this.host.memory.remove(this);
    await this.evict();
  }
}

interface CacheEntry {
  value: unknown;
  dispose?: (v: unknown) => unknown;
  slot?: Evictable;
}

export interface CacheOptions<T> {
  /**
   * bytes the value holds: a sized entry can be evicted under the memory budget (and is rebuilt by
   * its owner on the next miss); an entry without a size lives until the model is released
   */
  bytes?: number;
  /** called when the entry is dropped (evicted, replaced, or the model released) */
  dispose?: (v: T) => unknown;
}

/**
 * Per-model caches (loss-graph state, solve factors, context templates, …): owned by the loaded
 * model and freed with it, instead of module-level maps that outlive it. Keys are namespaced by the
 * owning module ("templates.contextTemplates", "stats.solves", …).
 */
export class ModelCaches {
  private entries = new Map<string, CacheEntry>();
  constructor(private readonly memory: MemoryManager) {}

  get<T>(key: string): T | undefined {
    const e = this.entries.get(key);
    if (e?.slot) e.slot.lastUse = this.memory.tick();
    return e?.value as T | undefined;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  set<T>(key: string, value: T, opts: CacheOptions<T> = {}): T {
    this.delete(key);
    const entry: CacheEntry = { value, dispose: opts.dispose as CacheEntry['dispose'] };
    if (opts.bytes && opts.bytes > 0) {
      const caches = this;
      const slot: Evictable = {
        label: `cache ${key}`,
        bytes: opts.bytes,
        lastUse: this.memory.tick(),
        evictable: () => caches.entries.get(key) === entry,
        evict: async () => caches.delete(key),
      };
      entry.slot = slot;
      this.memory.add(slot);
    }
    this.entries.set(key, entry);
    return value;
  }

  getOrCreate<T>(key: string, make: () => T, opts: CacheOptions<T> = {}): T {
    if (this.entries.has(key)) return this.get<T>(key) as T;
    return this.set(key, make(), opts);
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    if (e.slot) this.memory.remove(e.slot);
    e.dispose?.(e.value);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  clear(): void {
    for (const k of [...this.entries.keys()]) this.delete(k);
  }
}
