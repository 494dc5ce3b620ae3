// ApiHost: the one place where calls from a UI transport (Electron IPC or the headless WebSocket)
// meet the engine process. Transport-neutral, so it lives in src-main/host and reads the wire format
// (api/wire.ts); neither transport imports the other. Every call is checked against the contract's allow-list and validator
// before it reaches the engine; a call's progress goes back to the caller only, the engine's
// broadcasts (jobs, queue items, edits recorded, ledger changes, guardrails) to every connected client.
import { EngineClient, type EngineClientOptions, type EngineExit } from '../jobs/client';
import type { MethodName, ParamsOf } from '../jobs/protocol';
import type { StudioEvent } from '../api/contract';
import { isStudioEventBody, toStudioEvent } from '../api/events';
import { isStudioMethod } from '../api/methods';
import { validateParams } from '../api/validate';
import {
  HOST_EVENTS,
  HOST_METHODS,
  type CallReply,
  type EngineExitedEvent,
  type EngineRestartedEvent,
  type HostEvent,
  type HostMethods,
} from '../api/wire';
import { dataRoot } from '../engine/paths';
import { toWire } from '../engine/errors';
import { RecentModels } from './recent-models';

export interface ApiHostOptions {
  /** an engine to use (tests); default: a new EngineClient */
  engine?: EngineClient;
  engineOptions?: EngineClientOptions;
  /** log lines (default: nothing) */
  log?: (line: string) => void;
  /** folder for the recent-models list (default: the data root, $EAC_DATA_DIR) */
  dataDir?: string;
}

/** The params of the last successful workspace.open: what a restarted engine reopens. */
type OpenParams = Record<string, unknown> & { modelDir: string; device?: string };

export type EventSink = (ev: HostEvent) => void;

interface Running {
  engineCall: { id: number; cancel(): Promise<boolean> };
}

/** A failed call as data: the error's code, message and detail unchanged (engine/errors.ts toWire). */
function errorReply(e: unknown): CallReply {
  return { ok: false, error: toWire(e) };
}

export class ApiHost {
  readonly engine: EngineClient;
  private sinks = new Set<EventSink>();
  /** running calls by `${clientKey}:${callId}` */
  private running = new Map<string, Running>();
  private log: (line: string) => void;
  private closed = false;
  private recents: RecentModels;
  /** the workspace to reopen when the engine process is replaced */
  private lastOpen: OpenParams | null = null;
  /** set while a restarted engine reopens the last workspace; client calls wait for it */
  private reopening: Promise<void> | null = null;

  constructor(opts: ApiHostOptions = {}) {
    // a UI host outlives its engine process: a crash or OOM kill starts a new one (see onEngineExit)
    this.engine = opts.engine ?? new EngineClient({ restart: true, ...opts.engineOptions });
    this.log = opts.log ?? (() => {});
    this.recents = new RecentModels(opts.dataDir ?? dataRoot());
    this.engine.on('exit', (e) => this.onEngineExit(e));
    // job, queue and ledger events from the engine go to every connected window
    this.engine.onBroadcast((body) => {
      if (isStudioEventBody(body)) this.broadcast({ name: body.type, payload: body });
    });
  }

  /**
   * The engine process died (crash, out-of-memory kill, native abort). Every window is told; when the
   * client is starting a new process, the last workspace is reopened from its ledger (its live edits
   * are rebuilt from the ledger's factors) and the windows are told again. Calls arriving meanwhile
   * wait for the reopen.
   */
  private onEngineExit(e: EngineExit): void {
    if (e.error.code !== 'worker_crashed' || this.closed) return;
    this.log(`engine process ${e.pid ?? '?'} died: ${e.error.message}${e.restarting ? '; starting a new one' : ''}`);
    const exited: EngineExitedEvent = { pid: e.pid, message: e.error.message, exitCode: e.code, signal: e.signal, restarting: e.restarting };
    this.broadcast({ name: HOST_EVENTS.engineExited, payload: exited });
    if (!e.restarting) return;
    // died while reopening: the workspace itself may be what kills it (e.g. too large for memory),
    // so the new engine starts empty instead of looping
    const loop = this.reopening !== null ? this.lastOpen : null;
    if (loop) this.lastOpen = null;
    const target = this.lastOpen;
    const reopen = async (): Promise<void> => {
      const done: EngineRestartedEvent = { pid: this.engine.pid, reopened: null };
      if (loop) {
        done.error = `the engine process died again while reopening ${loop.modelDir}; it was not reopened`;
        this.log(done.error);
      } else if (target) {
        try {
          done.workspace = await this.engine.call('workspace.open' as MethodName, target as never);
          done.reopened = target.modelDir;
          this.log(`reopened ${target.modelDir} in the new engine process ${this.engine.pid ?? '?'}`);
        } catch (err) {
          // the new engine died too: the exit handler of that death reports (and stops reopening)
          if ((err as { code?: unknown }).code === 'worker_crashed') return;
          done.error = (err as Error).message;
          this.lastOpen = null;
          this.log(`could not reopen ${target.modelDir}: ${done.error}`);
        }
      }
      done.pid = this.engine.pid;
      this.broadcast({ name: HOST_EVENTS.engineRestarted, payload: done });
    };
    const p = reopen().finally(() => {
      if (this.reopening === p) this.reopening = null;
    });
    this.reopening = p;
  }

  /** Methods the host answers itself (HOST_METHODS). */
  private hostCall(method: keyof HostMethods): CallReply {
    switch (method) {
      case 'models.recent':
        return { ok: true, result: { models: this.recents.list() } satisfies HostMethods['models.recent']['result'] };
    }
  }

  /** After a call succeeded: remember what a restarted engine must reopen; free a closed model's memory. */
  private async afterCall(method: string, params: unknown): Promise<void> {
    if (method === 'workspace.open') {
      const p = params as OpenParams;
      this.lastOpen = p;
      try {
        this.recents.add(p.modelDir, p.device);
      } catch (e) {
        this.log(`could not update the recent-models list: ${(e as Error).message}`);
      }
    } else if (method === 'workspace.close') {
      this.lastOpen = null;
      // a fresh engine process gives the OS back everything the model held (ORT arenas, mmaps)
      await this.engine.recycle().catch((e: Error) => this.log(`engine recycle failed: ${e.message}`));
    }
  }

  /** Subscribes a client to broadcast events; returns the unsubscribe function. */
  subscribe(sink: EventSink): () => void {
    this.sinks.add(sink);
    return () => this.sinks.delete(sink);
  }

  private broadcast(ev: HostEvent): void {
    for (const s of this.sinks) {
      try {
        s(ev);
      } catch {
        /* a broken client must not stop the others */
      }
    }
  }

  /**
   * One call from a client. `clientKey` scopes callIds (each window/socket numbers its own);
   * `toCaller` receives this call's progress events.
   */
  async call(clientKey: string, callId: number, method: unknown, params: unknown, toCaller: EventSink): Promise<CallReply> {
    if (this.closed) return { ok: false, error: { message: 'the app is shutting down', code: 'closed' } };
    if (!Number.isSafeInteger(callId)) return { ok: false, error: { message: 'callId must be an integer', code: 'bad_params' } };
    if ((HOST_METHODS as readonly unknown[]).includes(method)) return this.hostCall(method as keyof HostMethods);
    if (!isStudioMethod(method)) {
      return { ok: false, error: { message: `unknown method ${JSON.stringify(method)}`, code: 'unknown_method' } };
    }
    let checked: unknown;
    try {
      checked = validateParams(method, params);
    } catch (e) {
      return errorReply(e);
    }
    const key = `${clientKey}:${callId}`;
    const started = Date.now();
    if (this.reopening) await this.reopening;
    try {
      const engineMethod = method as unknown as MethodName;
      const pending = this.engine.call(engineMethod, checked as ParamsOf<MethodName>, (pe) => {
        const ev: StudioEvent = toStudioEvent(callId, method, pe);
        if (ev.type === 'progress') toCaller({ name: 'progress', payload: ev });
        else this.broadcast({ name: ev.type, payload: ev });
      });
      this.running.set(key, { engineCall: pending });
      const result = await pending;
      await this.afterCall(method, checked);
      this.log(`${method} ok (${Date.now() - started} ms)`);
      return { ok: true, result };
    } catch (e) {
      this.log(`${method} failed: ${(e as Error)?.message ?? e}`);
      return errorReply(e);
    } finally {
      this.running.delete(key);
    }
  }

  /** Cancels a running call of this client (the engine rejects it with code 'cancelled'). */
  async cancel(clientKey: string, callId: number): Promise<boolean> {
    const r = this.running.get(`${clientKey}:${callId}`);
    if (!r) return false;
    try {
      return await r.engineCall.cancel();
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sinks.clear();
    await this.engine.close();
  }
}
