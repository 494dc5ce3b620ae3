// The handler registry: the methods an engine process serves and the context each handler runs with. Handler
// modules (jobs/studio, tests, plugins) import these types from here; the worker imports the registry and the
// modules, so nothing imports the worker back (issue 20: the circle worker.ts <-> studio/* is gone).
import type { ProgressCount } from '../engine/progress';
import type { LoadedModel } from '../engine/runtime/model';
import { CONTROL_METHODS, type MethodName, type ParamsOf, type ResultOf } from './protocol';
import { internalError } from '../engine/errors';

export interface EngineState {
  /** the resident model, or null before openModel */
  model: LoadedModel | null;
  /** free-form per-module state (ledgers, caches); key by module name */
  extras: Map<string, unknown>;
  /** sends an event to every client of the engine (EngineBroadcast), outside any request */
  broadcast(body: unknown): void;
}

export interface HandlerContext {
  /** request id */
  id: number;
  /** aborted by `cancel {id}` or when the engine closes; long handlers should check it between steps */
  signal: AbortSignal;
  /** emits a progress event for this request */
  progress(phase: string, fraction: number, message?: string, count?: ProgressCount): void;
  state: EngineState;
  /** the resident model, or an EngineError('no_model') */
  requireModel(): LoadedModel;
  registry: HandlerRegistry;
}

export type Handler<M extends MethodName> = (params: ParamsOf<M>, ctx: HandlerContext) => Promise<ResultOf<M>> | ResultOf<M>;
export type HandlerMap = { [M in MethodName]?: Handler<M> };
export type ModelOpenedHook = (model: LoadedModel, ctx: HandlerContext) => void | Promise<void>;

/** What a handler file exports. */
export interface HandlerModule {
  registerHandlers(registry: HandlerRegistry): void;
}

export class HandlerRegistry {
  private handlers = new Map<string, Handler<MethodName>>();
  private immediate = new Set<string>(CONTROL_METHODS);
  readonly modelOpenedHooks: ModelOpenedHook[] = [];
  /** run when the engine closes, before the model is released (stop jobs, close ledgers) */
  readonly closeHooks: ((state: EngineState) => Promise<void>)[] = [];

  /**
   * Methods answered at once instead of waiting in the FIFO: controls (cancel, pause) and pure reads
   * that must stay responsive while a long call (a queue run) holds the engine.
   */
  runImmediately(methods: readonly string[]): this {
    for (const m of methods) this.immediate.add(m);
    return this;
  }

  isImmediate(method: string): boolean {
    return this.immediate.has(method);
  }

  /** Registers handlers; a method registered twice is an error (use `replace` to override on purpose). */
  add(map: HandlerMap): this {
    for (const [name, h] of Object.entries(map)) {
      if (!h) continue;
      if (this.handlers.has(name)) throw internalError(`engine method "${name}" is registered twice`);
      this.handlers.set(name, h as Handler<MethodName>);
    }
    return this;
  }

  replace(map: HandlerMap): this {
    for (const [name, h] of Object.entries(map)) if (h) this.handlers.set(name, h as Handler<MethodName>);
    return this;
  }

  /** Runs after every successful openModel (e.g. to re-apply a ledger's factors). */
  onModelOpened(hook: ModelOpenedHook): this {
    this.modelOpenedHooks.push(hook);
    return this;
  }

  onClose(hook: (state: EngineState) => Promise<void>): this {
    this.closeHooks.push(hook);
    return this;
  }

  get(method: string): Handler<MethodName> | undefined {
    return this.handlers.get(method);
  }

  methods(): string[] {
    return [...this.handlers.keys()].sort();
  }
}
