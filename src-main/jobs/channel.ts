// EngineChannel: the transport between EngineClient and the engine process. The engine is a separate
// OS process (not a thread), so a crash, an out-of-memory kill or a native abort in onnxruntime or
// SQLite ends that process only; the host (Electron main, headless server, CLI) sees the exit and
// can start a new one. Two implementations share this interface:
//   - forkEngine (here): child_process.fork with an IPC channel and 'advanced' (structured clone)
//     serialization, on a plain Node binary — the Node that runs npm, so native modules match;
//   - utilityProcessChannel (src-main/electron/engine-channel.ts): Electron's utilityProcess, used
//     by the packaged app, whose natives are rebuilt for Electron when it is packaged.
// The messages are the ones of ./protocol, plus FatalMessage which the engine sends just before it
// exits on an uncaught error (so the client can say why, not only that, it died).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HostToWorker, WorkerToHost } from './protocol';

/** Sent by the engine process right before it exits on an uncaught error. */
export interface FatalMessage {
  event: 'fatal';
  message: string;
}

export type EngineToHost = WorkerToHost | FatalMessage;

export function isFatalMessage(m: unknown): m is FatalMessage {
  return typeof m === 'object' && m !== null && (m as FatalMessage).event === 'fatal' && typeof (m as FatalMessage).message === 'string';
}

export interface ChannelExit {
  /** exit code, or null when a signal ended the process */
  code: number | null;
  signal: string | null;
}

export interface EngineChannel {
  /** OS process id of the engine (undefined until the OS reports it) */
  readonly pid: number | undefined;
  send(m: HostToWorker): void;
  onMessage(cb: (m: EngineToHost) => void): void;
  /** called once, when the process has exited (or failed to start) */
  onExit(cb: (e: ChannelExit) => void): void;
  /** hard stop (SIGKILL): what close() falls back to when the engine does not answer */
  kill(): void;
  /** do not keep the host's event loop alive for this process */
  unref(): void;
}

export interface EngineSpawnOptions {
  /** the engine entry (./engine-process.ts under tsx, engine.js next to a bundle) */
  entry: URL;
  /** handler modules (file URLs) the engine imports and registers before it reports ready */
  handlerModules: string[];
  /** extra node flags */
  execArgv?: string[];
  /** environment of the engine process (default: this process's at spawn time) */
  env?: NodeJS.ProcessEnv;
}

export type EngineSpawner = (o: EngineSpawnOptions) => EngineChannel;

/** argv marker that makes engine-process.ts start serving (importing it elsewhere does nothing). */
export const ENGINE_ARG = '--eac-engine';

const SOURCE_EXT = /\.(m|c)?tsx?$/;

/**
 * file URL of tsx's loader (`--import tsx`), resolved from this package so any cwd works: a
 * source-mode engine (.ts entry, tests and `npm run serve`) runs with it.
 */
export function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports: Record<string, unknown> };
  const dot = pkg.exports['.'];
  const rel = typeof dot === 'string' ? dot : './dist/loader.mjs';
  return pathToFileURL(path.join(path.dirname(pkgPath), rel)).href;
}

/**
 * The Node binary that runs the engine: $EAC_ENGINE_NODE (set by `npm start` for the Electron
 * window, whose own binary has Electron's native ABI), else this process's binary when it is Node.
 */
export function engineNodeBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EAC_ENGINE_NODE) return env.EAC_ENGINE_NODE;
  if (process.versions.electron) return 'node'; // from PATH: natives are built for the system Node
  return process.execPath;
}

/** child_process.fork transport: IPC channel, structured-clone ('advanced') serialization. */
export function forkEngine(o: EngineSpawnOptions): EngineChannel {
  const file = fileURLToPath(o.entry);
  const fromSource = SOURCE_EXT.test(file);
  const child = fork(file, [ENGINE_ARG, ...o.handlerModules], {
    execPath: engineNodeBinary(o.env ?? process.env),
    execArgv: [...(fromSource ? ['--import', tsxLoaderUrl()] : []), ...(o.execArgv ?? [])],
    env: { ...(o.env ?? process.env), ELECTRON_RUN_AS_NODE: undefined },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let exited = false;
  const exitListeners: ((e: ChannelExit) => void)[] = [];
  const fireExit = (e: ChannelExit) => {
    if (exited) return;
    exited = true;
    for (const l of exitListeners) l(e);
  };
  child.on('exit', (code, signal) => fireExit({ code, signal }));
  // a spawn failure (missing binary) emits 'error' and possibly no 'exit'
  child.on('error', (e) => {
    if (child.pid === undefined) {
      process.stderr.write(`eac: cannot start the engine process: ${e.message}\n`);
      fireExit({ code: null, signal: null });
    }
  });
  return {
    get pid() {
      return child.pid;
    },
    send(m) {
      if (child.connected) child.send(m);
    },
    onMessage(cb) {
      child.on('message', (m) => cb(m as EngineToHost));
    },
    onExit(cb) {
      exitListeners.push(cb);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    unref() {
      child.unref();
      // the IPC channel keeps the loop alive on its own
      (child.channel as { unref?: () => void } | undefined)?.unref?.();
    },
  };
}
