// `npm run serve [-- --port N] [--model DIR] [--data DIR] [--device D] [--no-model]`
// Starts headless mode and prints the URL (with its token) to open in a browser.
import fs from 'node:fs';
import path from 'node:path';
import { DEVICES, isDevice, type DeviceName } from '../engine/devices';
import { packageRoot } from '../engine/paths';
import { ApiHost } from '../host/api-host';
import { buildDecision, runBuild } from '../host/build-freshness';
import { startServer, type RunningServer } from './server';
import { EacError } from '../engine/errors';

export interface ServeArgs {
  port: number;
  modelDir: string | null;
  dataDir: string | null;
  device?: DeviceName;
  quiet: boolean;
}

const USAGE = `usage: npm run serve -- [--port N] [--model DIR | --no-model] [--data DIR] [--device ${DEVICES.join('|')}] [--quiet]
  --port N      port on 127.0.0.1 (default 0: a free port)
  --model DIR   Hugging Face folder to open at start (default: the bundled demo model)
  --no-model    start without opening a model
  --data DIR    where the app keeps ledgers and caches (default $EAC_DATA_DIR or ~/.local/share/eac-studio)
  --device D    device for the model opened at start (default cpu)`;

export function parseServeArgs(argv: string[]): ServeArgs {
  const out: ServeArgs = { port: 0, modelDir: path.join(packageRoot(), 'resources', 'demo-model'), dataDir: null, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new EacError('usage', `${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new EacError('usage', `--port must be 0..65535\n${USAGE}`);
        out.port = n;
        break;
      }
      case '--model':
        out.modelDir = path.resolve(value());
        break;
      case '--no-model':
        out.modelDir = null;
        break;
      case '--data':
        out.dataDir = path.resolve(value());
        break;
      case '--device': {
        const d = value();
        if (!isDevice(d)) throw new EacError('usage', `--device must be one of ${DEVICES.join(', ')}, got ${JSON.stringify(d)}\n${USAGE}`);
        out.device = d;
        break;
      }
      case '--quiet':
        out.quiet = true;
        break;
      case '-h':
      case '--help':
        throw Object.assign(new EacError('usage', USAGE), { help: true });
      default:
        throw new EacError('usage', `unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    }
  }
  return out;
}

/**
 * Builds with electron-vite when out/renderer is missing or older than the sources (the renderer bundles
 * src-renderer and the src-main modules it imports, so any source counts), and returns out/renderer.
 */
export function ensureRendererBuilt(root = packageRoot()): string {
  const dir = path.join(root, 'out', 'renderer');
  const decision = buildDecision(root, ['out/renderer/index.html']);
  if (!decision.build) return dir;
  console.log(`eac-studio: building the renderer (npm run build): ${decision.reason} ...`);
  if (!runBuild(root) || !fs.existsSync(path.join(dir, 'index.html'))) throw new EacError('not_built', 'building the renderer failed; run `npm run build` and look at its output');
  return dir;
}

export async function serve(args: ServeArgs): Promise<{ server: RunningServer; host: ApiHost }> {
  if (args.dataDir) {
    fs.mkdirSync(args.dataDir, { recursive: true });
    process.env.EAC_DATA_DIR = args.dataDir; // inherited by the engine process, started after this
  }
  const staticDir = ensureRendererBuilt();
  const log = args.quiet ? () => {} : (l: string) => console.log(`[eac] ${l}`);
  const host = new ApiHost({ log });
  const server = await startServer({ host, staticDir, port: args.port, log });
  console.log(`EAC Studio (headless) listening on 127.0.0.1:${server.port}`);
  console.log(`Open: ${server.url}`);
  console.log(`(over SSH: ssh -L ${server.port}:127.0.0.1:${server.port} <host>, then open the URL locally)`);
  if (args.modelDir) {
    const dir = args.modelDir;
    const reply = await host.call('startup', 0, 'workspace.open', { modelDir: dir, ...(args.device ? { device: args.device } : {}) }, () => {});
    if (reply.ok) console.log(`Opened model ${dir}`);
    else console.error(`Could not open model ${dir}: ${reply.error.message}`);
  }
  return { server, host };
}

export async function main(argv = process.argv.slice(2)): Promise<number> {
  let args: ServeArgs;
  try {
    args = parseServeArgs(argv);
  } catch (e) {
    const err = e as Error & { help?: boolean };
    (err.help ? console.log : console.error)(err.message);
    return err.help ? 0 : 2;
  }
  let running: { server: RunningServer; host: ApiHost };
  try {
    running = await serve(args);
  } catch (e) {
    console.error(`eac-studio: ${(e as Error).message}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      console.log('EAC Studio: shutting down');
      void Promise.allSettled([running.server.close(), running.host.close()]).then(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

const invoked = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (invoked) {
  void main().then((code) => process.exit(code));
}
