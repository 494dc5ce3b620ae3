// EngineChannel over Electron's utilityProcess: how the packaged app runs the engine. The utility
// process is a Node environment of Electron's own, so the natives it loads (better-sqlite3,
// onnxruntime-node) are the ones electron-builder rebuilt for Electron's ABI and unpacked from the
// asar; the main process itself never loads them. Same protocol and entry as the Node fork
// (src-main/jobs/channel.ts); the engine reads requests from process.parentPort.
import { fileURLToPath } from 'node:url';
import { ENGINE_ARG, type ChannelExit, type EngineChannel, type EngineSpawner, type EngineToHost } from '../jobs/channel';

/** The part of Electron's UtilityProcess used here (Electron is optional: no type import). */
export interface UtilityProcessLike {
  readonly pid: number | undefined;
  postMessage(m: unknown): void;
  on(event: 'message', cb: (m: unknown) => void): unknown;
  on(event: 'exit', cb: (code: number) => void): unknown;
  kill(): boolean;
}

export interface UtilityProcessModuleLike {
  fork(
    modulePath: string,
    args?: string[],
    options?: { serviceName?: string; stdio?: 'inherit' | 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv; execArgv?: string[] },
  ): UtilityProcessLike;
}

export function utilityProcessSpawner(utilityProcess: UtilityProcessModuleLike): EngineSpawner {
  return (o) => {
    const child = utilityProcess.fork(fileURLToPath(o.entry), [ENGINE_ARG, ...o.handlerModules], {
      serviceName: 'EAC Studio engine',
      stdio: 'inherit',
      env: o.env ?? process.env,
      execArgv: o.execArgv,
    });
    let exited = false;
    const exitListeners: ((e: ChannelExit) => void)[] = [];
    child.on('exit', (code: number) => {
      if (exited) return;
      exited = true;
      for (const l of exitListeners) l({ code, signal: null });
    });
    const channel: EngineChannel = {
      get pid() {
        return child.pid;
      },
      send(m) {
        if (!exited) child.postMessage(m);
      },
      onMessage(cb) {
        child.on('message', (m: unknown) => cb(m as EngineToHost));
      },
      onExit(cb) {
        exitListeners.push(cb);
      },
      kill() {
        if (!exited) child.kill();
      },
      unref() {
        /* a utility process does not hold the main process's event loop */
      },
    };
    return channel;
  };
}
