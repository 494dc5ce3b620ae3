// EngineClient: starts the engine process (./engine-process over an EngineChannel, see ./channel)
// and speaks the protocol of ./protocol with typed calls.
//
//   const engine = new EngineClient();
//   const info = await engine.call('openModel', { dir, device: 'webgpu' });
//   const gen = engine.call('generate', { prompts: ['x'], maxNewTokens: 8 }, (p) => console.log(p.phase, p.fraction));
//   await engine.cancel(gen.id);            // or gen.cancel()
//   engine.on('exit', (e) => console.log(e.error.message));   // the engine process died
//   await engine.close();
//
// When the engine process exits unexpectedly every pending call rejects with code 'worker_crashed'.
// With `restart: true` (the app and the headless server) a new engine process starts at once and
// later calls go to it ('restart' event; it starts empty: reopening the workspace is the host's
// job); without it (CLI, tests) the client stays dead and later calls reject the same way.
import { pathToFileURL } from 'node:url';
import {
  ENGINE_ERROR_CODES as CODES,
  EngineError,
  fromWire,
  isBroadcast,
  isProgressEvent,
  isReadyMessage,
  type MethodName,
  type ParamsOf,
  type ProgressEvent,
  type RequestMessage,
  type ResultOf,
} from './protocol';
import { forkEngine, isFatalMessage, type ChannelExit, type EngineChannel, type EngineSpawner } from './channel';

export { EngineError } from './protocol';
export { tsxLoaderUrl } from './channel';

/** A pending call: a promise with its request id and a shortcut to cancel it. */
export type EngineCall<T> = Promise<T> & { id: number; cancel(): Promise<boolean> };

export interface EngineClientOptions {
  /** engine entry; default ./engine-process.ts next to this file under tsx, ./engine.js next to a bundle */
  entry?: URL;
  /** extra handler modules (paths or file URLs) the engine imports and registers at start-up */
  handlerModules?: (string | URL)[];
  /** extra node flags for the engine process */
  execArgv?: string[];
  /** do not keep the process alive just for the engine */
  unref?: boolean;
  /** ms to wait for the engine's reply to `close` before killing it (default 5000) */
  closeTimeoutMs?: number;
  /** start a new engine process when one exits unexpectedly (default false) */
  restart?: boolean;
  /** how to start the engine process (default: child_process.fork on Node; Electron passes utilityProcess) */
  spawn?: EngineSpawner;
}

/** Why and how an engine process ended. */
export interface EngineExit extends ChannelExit {
  pid: number | undefined;
  /** what pending calls were rejected with ('worker_crashed', or 'closed' for a requested stop) */
  error: EngineError;
  /** true when the client is starting a new engine process */
  restarting: boolean;
}

export interface EngineClientEvents {
  exit: EngineExit;
  /** a new engine process was started after an exit (or by recycle()) and accepts calls */
  restart: { pid: number | undefined; methods: string[] };
}

interface Pending {
  method: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (e: ProgressEvent) => void;
}

/** One engine process and its start-up state. */
interface Generation {
  channel: EngineChannel;
  ready: Promise<void>;
  isReady: boolean;
  /** set by the FatalMessage the process sends before it exits */
  fatal: string | null;
  /** an exit that was asked for (close, recycle) */
  expected: boolean;
  /** resolves when the process has exited */
  exited: Promise<void>;
}

const SOURCE_EXT = /\.(m|c)?tsx?$/;

/** true when this module runs from TypeScript sources (tsx / vitest) rather than a bundled .js */
export function runningFromSource(url: string = import.meta.url): boolean {
  try {
    return SOURCE_EXT.test(new URL(url).pathname);
  } catch {
    return false;
  }
}

function toUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m)) return m;
  return pathToFileURL(m).href;
}

function describeExit(e: ChannelExit): string {
  if (e.signal) return `killed by ${e.signal}${e.signal === 'SIGKILL' ? ', e.g. out of memory' : ''}`;
  return `exit code ${e.code}`;
}

export class EngineClient {
  /** methods the engine registered, once it is ready */
  methods: string[] = [];
  private pending = new Map<number, Pending>();
  private broadcastListeners = new Set<(body: unknown) => void>();
  private nextId = 1;
  private gen: Generation;
  private closing = false;
  private dead: EngineError | null = null;
  private readonly closeTimeoutMs: number;
  private readonly spawnOne: () => EngineChannel;
  private readonly unref: boolean;
  private readonly restart: boolean;
  private listeners: { [K in keyof EngineClientEvents]: Set<(e: EngineClientEvents[K]) => void> } = { exit: new Set(), restart: new Set() };
  /** consecutive engine processes that died before they were ready (a crash loop stops restarts) */
  private failedStarts = 0;

  constructor(opts: EngineClientOptions = {}) {
    const entry = opts.entry ?? new URL(runningFromSource() ? './engine-process.ts' : './engine.js', import.meta.url);
    const handlerModules = (opts.handlerModules ?? []).map(toUrl);
    const spawn = opts.spawn ?? forkEngine;
    this.spawnOne = () => spawn({ entry, handlerModules, execArgv: opts.execArgv });
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000;
    this.unref = opts.unref ?? false;
    this.restart = opts.restart ?? false;
    this.gen = this.start();
  }

  /** OS process id of the current engine process. */
  get pid(): number | undefined {
    return this.gen.channel.pid;
  }

  /** Subscribes to 'exit' (an engine process ended) or 'restart' (a new one accepts calls); returns the unsubscribe function. */
  on<K extends keyof EngineClientEvents>(event: K, listener: (e: EngineClientEvents[K]) => void): () => void {
    this.listeners[event].add(listener);
    return () => this.listeners[event].delete(listener);
  }

  private emit<K extends keyof EngineClientEvents>(event: K, e: EngineClientEvents[K]): void {
    for (const l of this.listeners[event]) {
      try {
        l(e);
      } catch {
        /* a throwing listener must not break the client */
      }
    }
  }

  private start(): Generation {
    const channel = this.spawnOne();
    if (this.unref) channel.unref();
    let readyResolve!: () => void;
    let readyReject!: (e: unknown) => void;
    const g: Generation = {
      channel,
      exited: new Promise<void>((res) => channel.onExit(() => res())),
      isReady: false,
      fatal: null,
      expected: false,
      ready: new Promise<void>((res, rej) => {
        readyResolve = res;
        readyReject = rej;
      }),
    };
    g.ready.catch(() => {}); // observed through calls
    channel.onMessage((m) => {
      if (isFatalMessage(m)) {
        g.fatal = m.message;
        return;
      }
      if (isReadyMessage(m)) {
        this.methods = m.methods;
        g.isReady = true;
        this.failedStarts = 0;
        readyResolve();
        return;
      }
      if (isBroadcast(m)) {
        for (const l of this.broadcastListeners) {
          try {
            l(m.body);
          } catch {
            /* a throwing listener must not break the protocol */
          }
        }
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      if (isProgressEvent(m)) {
        try {
          p.onProgress?.(m);
        } catch {
          /* a throwing progress listener must not break the protocol */
        }
        return;
      }
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(fromWire(m.error));
    });
    channel.onExit((exit) => {
      const requested = this.closing || g.expected;
      const err = requested
        ? new EngineError(CODES.closed, 'the engine was closed')
        : g.fatal !== null
          ? new EngineError(CODES.workerCrashed, `the engine worker crashed: ${g.fatal}`)
          : new EngineError(CODES.workerCrashed, `the engine process exited unexpectedly (${describeExit(exit)})`);
      readyReject(err);
      if (g !== this.gen) return; // an old process (recycled) going away
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (!g.isReady) this.failedStarts++;
      // a process that cannot even start would be restarted forever
      const restarting = this.restart && !this.closing && !g.expected && this.failedStarts < 3;
      // the new process first, so calls made by 'exit' listeners (reopening a workspace) go to it
      if (restarting) {
        this.gen = this.start();
        const next = this.gen;
        next.ready.then(
          () => this.emit('restart', { pid: next.channel.pid, methods: this.methods }),
          () => {},
        );
      } else if (!this.dead) {
        this.dead = err;
      }
      this.emit('exit', { ...exit, pid: channel.pid, error: err, restarting });
    });
    return g;
  }

  /** Sends one request; resolves with its result or rejects with an EngineError carrying the engine's code. */
  call<M extends MethodName>(method: M, params: ParamsOf<M>, onProgress?: (e: ProgressEvent) => void): EngineCall<ResultOf<M>> {
    const id = this.nextId++;
    const promise = new Promise<ResultOf<M>>((resolve, reject) => {
      if (this.dead) return reject(this.dead);
      if (this.closing && method !== 'close') return reject(new EngineError(CODES.closed, 'the engine is closing'));
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, onProgress });
      const g = this.gen;
      g.ready.then(
        () => {
          if (!this.pending.has(id)) return;
          const msg: RequestMessage<M> = { id, method, params };
          g.channel.send(msg);
        },
        (e) => {
          if (this.pending.delete(id)) reject(e);
        },
      );
    });
    return Object.assign(promise, { id, cancel: () => this.cancel(id) });
  }

  /** Subscribes to the engine's broadcasts (job and ledger events for every client); returns the unsubscribe function. */
  onBroadcast(listener: (body: unknown) => void): () => void {
    this.broadcastListeners.add(listener);
    return () => this.broadcastListeners.delete(listener);
  }

  /** Aborts a running or queued request (it rejects with code 'cancelled'); false when it had already finished. */
  async cancel(id: number): Promise<boolean> {
    if (!this.pending.has(id)) return false;
    const r = await this.call('cancel', { id });
    return r.cancelled;
  }

  /** Asks the engine process to close (answering `close`), killing it after closeTimeoutMs; resolves when it has exited. */
  private async stop(g: Generation): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((res) => {
      timer = setTimeout(res, this.closeTimeoutMs);
    });
    if (g.isReady) {
      const id = this.nextId++;
      g.channel.send({ id, method: 'close', params: {} } as RequestMessage<'close'>);
      await Promise.race([g.exited, timeout]);
    }
    clearTimeout(timer);
    g.channel.kill();
    await g.exited;
  }

  /**
   * Replaces the engine process with a fresh one (after a clean close of the current one), so the
   * OS gets back everything the old process held; calls made meanwhile go to the new process.
   * Pending calls of the old process reject with 'closed'. Resolves once the new process is ready.
   */
  async recycle(): Promise<void> {
    if (this.closing || this.dead) throw this.dead ?? new EngineError(CODES.closed, 'the engine is closing');
    const old = this.gen;
    old.expected = true;
    const err = new EngineError(CODES.closed, 'the engine was restarted');
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.gen = this.start();
    const next = this.gen;
    await this.stop(old);
    await next.ready;
    this.emit('restart', { pid: next.channel.pid, methods: this.methods });
  }

  /** Releases the model, stops the engine process, and rejects whatever is still pending. */
  async close(): Promise<void> {
    if (this.closing) return;
    const g = this.gen;
    if (this.dead) {
      this.closing = true;
      g.channel.kill();
      await g.exited;
      return;
    }
    const closeCall = this.call('close', {} as ParamsOf<'close'>);
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        closeCall,
        new Promise((_, rej) => {
          timer = setTimeout(() => rej(new EngineError(CODES.closed, 'close timed out')), this.closeTimeoutMs);
        }),
      ]);
    } catch {
      /* killed below */
    } finally {
      clearTimeout(timer);
    }
    g.channel.kill();
    await g.exited;
  }

  /** Number of calls waiting for an answer. */
  get pendingCount(): number {
    return this.pending.size;
  }
}
