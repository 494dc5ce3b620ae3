// The engine process: hosts the handler registry and dispatcher of ./worker in a process of its own,
// spoken to over an IPC channel (see ./channel). Started by EngineClient as
//   node [--import tsx] engine-process.ts --eac-engine [handler module URLs...]   (child_process.fork)
// or, in the packaged app, as Electron's utilityProcess (process.parentPort instead of process.send).
// Anything uncaught ends the process after a FatalMessage saying why; the host decides whether to
// start a new one. When the host goes away (IPC disconnect) the engine exits too.
import { ENGINE_ARG, type EngineToHost } from './channel';
import type { RequestMessage } from './protocol';

interface ParentPortLike {
  postMessage(m: unknown): void;
  on(event: 'message', cb: (e: { data: unknown }) => void): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;

function post(m: EngineToHost, done?: () => void): void {
  if (parentPort) {
    parentPort.postMessage(m);
    done?.();
  } else if (process.send && process.connected) {
    process.send(m, undefined, {}, () => done?.());
  } else {
    done?.();
  }
}

let dying = false;
function fatal(e: unknown): void {
  if (dying) return;
  dying = true;
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`eac engine: fatal: ${e instanceof Error && e.stack ? e.stack : message}\n`);
  process.exitCode = 70;
  // exit once the message is on its way (process.send calls back when it is written)
  post({ event: 'fatal', message }, () => setImmediate(() => process.exit(70)));
}

async function start(handlerModules: string[]): Promise<void> {
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // imported here, after the handlers above, so a module that fails to load is reported as fatal
  const { buildRegistry, EngineDispatcher } = await import('./worker');
  const registry = await buildRegistry(handlerModules);
  let pendingSends = 0;
  let closed = false;
  const exitWhenFlushed = () => {
    if (closed && pendingSends === 0) process.exit(0);
  };
  const dispatcher = new EngineDispatcher(
    registry,
    (m) => {
      pendingSends++;
      post(m, () => {
        pendingSends--;
        exitWhenFlushed();
      });
    },
    () => {
      // `close` answered: leave once the reply is written
      closed = true;
      exitWhenFlushed();
    },
  );
  const onRequest = (m: unknown) => dispatcher.handle(m as RequestMessage);
  if (parentPort) {
    parentPort.on('message', (e) => onRequest(e.data));
  } else {
    process.on('message', onRequest);
    // the host died or closed the channel: nobody is left to answer
    process.on('disconnect', () => process.exit(0));
  }
  post({ event: 'ready', methods: registry.methods() });
}

const args = process.argv.slice(2);
const at = args.indexOf(ENGINE_ARG);
if (at >= 0 || parentPort) {
  void start(at >= 0 ? args.slice(at + 1) : []).catch(fatal);
}
