// Extra engine methods loaded into the worker by worker.test.ts through EngineClient's
// `handlerModules` option: they exercise progress, cancellation, error codes and crashes.
import type { HandlerRegistry } from '../../../src-main/jobs/registry';
import { EngineError } from '../../../src-main/jobs/protocol';
import type { ErrorCode } from '../../../src-main/engine/errors';

declare module '../../../src-main/jobs/protocol' {
  interface EngineMethods {
    testEcho: { params: { value: unknown }; result: { value: unknown; hasModel: boolean } };
    /** emits progress every few ms until cancelled (or `ms` elapse) */
    testWait: { params: { ms: number }; result: { waited: number } };
    /** throws EngineError(code, message, { detail }) */
    testFail: { params: { code: string; message: string; detail?: Record<string, unknown> }; result: never };
    /** throws outside any request, which kills the worker */
    testCrash: { params: Record<string, never>; result: never };
  }
}

export function registerHandlers(r: HandlerRegistry): void {
  r.add({
    testEcho: (params, ctx) => ({ value: params.value, hasModel: ctx.state.model !== null }),
    testWait: (params, ctx) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        let i = 0;
        const timer = setInterval(() => {
          const waited = Date.now() - t0;
          ctx.progress('wait', Math.min(1, waited / params.ms), `tick ${i++}`);
          if (waited >= params.ms) {
            clearInterval(timer);
            resolve({ waited });
          }
        }, 5);
        ctx.signal.addEventListener('abort', () => {
          clearInterval(timer);
          reject(ctx.signal.reason);
        });
      }),
    testFail: (params) => {
      throw new EngineError(params.code as ErrorCode, params.message, params.detail ? { detail: params.detail } : undefined);
    },
    testCrash: () => {
      setImmediate(() => {
        throw new Error('boom from testCrash');
      });
      return new Promise<never>(() => {});
    },
  });
}
