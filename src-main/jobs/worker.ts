// The engine: one resident LoadedModel, a FIFO queue of requests (session.run blocks the thread it
// runs on, so the engine lives in its own process — ./engine-process — and the UI/server/CLI event
// loops stay free), progress events, and per-request cancellation through an AbortSignal.
//
// Adding methods: write a handler module exporting
//   export function registerHandlers(r: HandlerRegistry): void { r.add({ myMethod: async (params, ctx) => ... }) }
// (HandlerRegistry and HandlerContext come from ./registry, never from this file), declare the method in
// EngineMethods (./protocol), and register the module: the studio's live in ./studio/*-handlers.ts and are
// listed in ./studio/index.ts; a new group goes in HANDLER_MODULES below. Modules can also be loaded at
// start-up without touching this file: EngineClient's `handlerModules` option (file URLs), used by tests and plugins.
import { CheckpointError } from '../engine/checkpoint';
import { DEVICES } from '../engine/devices';
import { cancelledError, internalError, isEacError, toWire, type EacError } from '../engine/errors';
import { LoadedModel, topTokens, type SessionBuildEvent } from '../engine/runtime/model';
import { describeModel } from './model-info';
import { decodeShown } from '../engine/runtime/decode-shown';
import {
  ENGINE_ERROR_CODES as CODES,
  EngineError,
  type ErrorInfo,
  type GenerateRow,
  type RequestMessage,
  type WorkerToHost,
} from './protocol';
import { HandlerRegistry, type EngineState, type HandlerContext, type HandlerModule } from './registry';
import { registerHandlers as registerStudioHandlers } from './studio';

/** ----- helpers shared by handlers ----- */

/** What a thrown value sends over the wire: code, message and detail unchanged (engine/errors.ts toWire). */
export function toErrorInfo(e: unknown): ErrorInfo {
  return toWire(e);
}

function badParams(msg: string): never {
  throw new EngineError(CODES.badParams, msg);
}

function checkPrompt(p: unknown, what: string): string {
  if (typeof p !== 'string') badParams(`${what} must be a string, got ${JSON.stringify(p)}`);
  return p;
}

function encodePrompt(model: LoadedModel, prompt: string): number[] {
  const ids = model.encode(prompt);
  if (ids.length === 0) badParams('the prompt is empty and the model has no BOS token to start from');
  return ids;
}

function cancelled(): EacError {
  return cancelledError();
}

/** ----- core handlers ----- */

export function registerCoreHandlers(r: HandlerRegistry): void {
  r.add({
    async openModel(params, ctx) {
      if (!params || typeof params.dir !== 'string' || params.dir === '') badParams('openModel needs {dir: string}');
      const device = params.device ?? 'cpu';
      if (!DEVICES.includes(device)) badParams(`unknown device "${device}" (use ${DEVICES.join(', ')})`);
      ctx.progress('load', 0, `reading ${params.dir}`);
      const maxMemory = params.maxMemory;
      if (maxMemory !== undefined && !(Number.isSafeInteger(maxMemory) && maxMemory > 0))
        badParams(`maxMemory must be a positive number of bytes, got ${JSON.stringify(maxMemory)}`);
      let model: LoadedModel;
      try {
        model = LoadedModel.open(params.dir, { device, maxMemory });
      } catch (e) {
        if (e instanceof CheckpointError) throw e;
        throw new EngineError(CODES.badModel, (e as Error).message);
      }
      // no session is built here (sessions are built on first use, README "How memory is used"):
      // only whether the device can start at all, with a one-node probe
      ctx.progress('load', 0.3, `checking ${device}`);
      await model.checkDevice();
      if (ctx.signal.aborted) {
        await model.release();
        throw cancelled();
      }
      const previous = ctx.state.model;
      ctx.state.model = model;
      if (previous && previous !== model) await previous.release().catch(() => {});
      for (const hook of ctx.registry.modelOpenedHooks) await hook(model, ctx);
      ctx.progress('load', 1);
      const info = describeModel(model);
      info.device = { ...model.deviceReport };
      return info;
    },

    async generate(params, ctx) {
      const model = ctx.requireModel();
      if (!params || !Array.isArray(params.prompts) || params.prompts.length === 0)
        badParams('generate needs {prompts: string[]} with at least one prompt');
      const n = params.maxNewTokens;
      if (!Number.isSafeInteger(n) || n < 0) badParams(`maxNewTokens must be a non-negative integer, got ${JSON.stringify(n)}`);
      const rows = params.prompts.map((p, i) => encodePrompt(model, checkPrompt(p, `prompts[${i}]`)));
      const eos = model.cfg.eosTokenId;
      const stopIds = params.stopAtEos === false || eos === undefined ? [] : [eos];
      // a session built for this call (minutes on a big model) and each token are reported as counts
      const onSession = (e: SessionBuildEvent) =>
        e.count
          ? ctx.progress('upload', e.count.total ? e.count.done / e.count.total : 1, `uploading the ${e.kind}`, e.count)
          : ctx.progress('session', e.state === 'done' ? 1 : 0, `${e.state === 'done' ? 'built' : 'building'} the ${e.kind} session`, { done: e.state === 'done' ? 1 : 0, total: 1, unit: 'sessions' });
      model.sessionListeners.add(onSession);
      let out: number[][];
      try {
        ctx.progress('generate', 0, `${rows.length} prompt${rows.length === 1 ? '' : 's'}, ${n} new tokens`, { done: 0, total: n, unit: 'tokens' });
        out = await model.generate(rows, n, { stopIds, signal: ctx.signal, onToken: (d, t) => ctx.progress('generate', t ? d / t : 1, undefined, { done: d, total: t, unit: 'tokens' }) });
      } finally {
        model.sessionListeners.delete(onSession);
      }
      // stopped at EOS before maxNewTokens: the phase is complete all the same
      ctx.progress('generate', 1, undefined, { done: n, total: n, unit: 'tokens' });
      return rows.map(
        (ids, b): GenerateRow => ({ ids: [...ids, ...out[b]], newIds: out[b], text: decodeShown(model.tok, out[b], true) }),
      );
    },

    async logits(params, ctx) {
      const model = ctx.requireModel();
      const ids = encodePrompt(model, checkPrompt(params?.prompt, 'prompt'));
      const [lg] = await model.lastLogits([ids]);
      return { ids, lastLogits: Array.from(lg) };
    },

    async placement(_params, ctx) {
      const model = ctx.requireModel();
      const r = await model.placement();
      const dw = model.deviceWeightsReport();
      return { ...r, resident: dw ? { tensors: dw.tensors, bytes: dw.bytes, modelBytes: model.weightBytes } : null };
    },

    async topk(params, ctx) {
      const model = ctx.requireModel();
      const ids = encodePrompt(model, checkPrompt(params?.prompt, 'prompt'));
      const k = params.k;
      if (!Number.isSafeInteger(k) || k < 1) badParams(`k must be a positive integer, got ${JSON.stringify(k)}`);
      let lg: Float32Array | Float64Array;
      if (params.edited === false && model.factors.size > 0) {
        // requests run one at a time, so lifting the factors for this one run is safe
        const saved = new Map(model.factors);
        model.factors.clear();
        try {
          [lg] = await model.lastLogits([ids]);
        } finally {
          for (const [l, f] of saved) model.factors.set(l, f);
        }
      } else {
        [lg] = await model.lastLogits([ids]);
      }
      return { ids, top: topTokens(lg, k, (t) => decodeShown(model.tok, t)) };
    },
  });
}

/** Handler modules compiled into the worker. Add new ones here. */
const HANDLER_MODULES: HandlerModule[] = [{ registerHandlers: registerCoreHandlers }, { registerHandlers: registerStudioHandlers }];

/** ----- dispatcher ----- */

/**
 * Runs requests against a registry: control methods (cancel, close) at once, everything else one at
 * a time in arrival order. Independent of worker_threads so it can be driven in-process too.
 */
export class EngineDispatcher {
  readonly state: EngineState;
  private queue: Promise<void> = Promise.resolve();
  private active = new Map<number, AbortController>();
  private closing = false;

  constructor(
    readonly registry: HandlerRegistry,
    private post: (m: WorkerToHost) => void,
    private onClosed: () => void = () => {},
  ) {
    this.state = { model: null, extras: new Map(), broadcast: (body) => this.post({ event: 'broadcast', body }) };
    registry.add({
      cancel: (params) => {
        const c = this.active.get(params?.id);
        if (!c || c.signal.aborted) return { cancelled: false };
        c.abort(cancelled());
        return { cancelled: true };
      },
      close: async () => {
        this.closing = true;
        for (const c of this.active.values()) c.abort(new EngineError(CODES.closed, 'the engine is closing'));
        await this.queue.catch(() => {});
        for (const h of this.registry.closeHooks) await h(this.state).catch(() => {});
        await this.state.model?.release().catch(() => {});
        this.state.model = null;
        setImmediate(this.onClosed);
        return { closed: true as const };
      },
    });
  }

  handle(msg: RequestMessage): void {
    const { id, method, params } = msg;
    const handler = this.registry.get(method);
    if (!handler) {
      this.post({
        id,
        ok: false,
        error: { message: `unknown engine method "${method}" (known: ${this.registry.methods().join(', ')})`, code: CODES.unknownMethod },
      });
      return;
    }
    if (this.closing && method !== 'close') {
      this.post({ id, ok: false, error: { message: 'the engine is closing', code: CODES.closed } });
      return;
    }
    const controller = new AbortController();
    const ctx: HandlerContext = {
      id,
      signal: controller.signal,
      progress: (phase, fraction, message, count) => {
        if (!controller.signal.aborted)
          this.post({ id, event: 'progress', phase, fraction, ...(message !== undefined ? { message } : {}), ...(count ? { count } : {}) });
      },
      state: this.state,
      requireModel: () => {
        if (!this.state.model) throw new EngineError(CODES.noModel, 'no model is open (call openModel first)');
        return this.state.model;
      },
      registry: this.registry,
    };
    const run = async () => {
      try {
        if (controller.signal.aborted) throw controller.signal.reason ?? cancelled();
        const result = await handler(params as never, ctx);
        if (controller.signal.aborted && method !== 'cancel' && method !== 'close') throw controller.signal.reason ?? cancelled();
        this.post({ id, ok: true, result } as WorkerToHost);
      } catch (e) {
        const reason = controller.signal.aborted ? controller.signal.reason : undefined;
        const info = isEacError(reason) ? toErrorInfo(reason) : toErrorInfo(e);
        this.post({ id, ok: false, error: info });
      } finally {
        this.active.delete(id);
      }
    };
    if (this.registry.isImmediate(method)) {
      void run();
      return;
    }
    this.active.set(id, controller);
    const next = this.queue.then(run);
    this.queue = next.catch(() => {});
  }
}

/** ----- start-up ----- */

/**
 * The registry an engine process serves: the compiled-in handler modules plus `handlerModules`
 * (file URLs, imported here; tests and plugins). The process around it is ./engine-process.
 */
export async function buildRegistry(handlerModules: readonly string[] = []): Promise<HandlerRegistry> {
  const registry = new HandlerRegistry();
  // a module compiled in and also named in handlerModules is the same module instance: register once
  const registered = new Set<HandlerModule['registerHandlers']>();
  for (const m of HANDLER_MODULES) {
    m.registerHandlers(registry);
    registered.add(m.registerHandlers);
  }
  for (const url of handlerModules) {
    const mod = (await import(url)) as Partial<HandlerModule>;
    if (typeof mod.registerHandlers !== 'function') throw internalError(`handler module ${url} exports no registerHandlers(registry)`);
    if (registered.has(mod.registerHandlers)) continue;
    mod.registerHandlers(registry);
    registered.add(mod.registerHandlers);
  }
  return registry;
}
