// `npm start`: the Electron window where an Electron binary exists, headless mode where it does not
// (Electron is an optional dependency; CI and GPU boxes install without its binary).
//   npm start -- [--model DIR] [--data DIR] [--port N]   (--port applies to the headless fallback)
import { spawn } from 'node:child_process';
import { packageRoot } from '../engine/paths';
import { buildDecision, runBuild } from '../host/build-freshness';
import { findElectron } from './launch-helpers';

async function run(argv: string[]): Promise<number> {
  const root = packageRoot();
  const found = findElectron();
  if ('reason' in found) {
    console.log(`EAC Studio: no Electron window here: ${found.reason}.`);
    console.log('Starting headless mode instead (the same app in your browser, on 127.0.0.1 with a token).');
    const { main } = await import('../server/main');
    const passThrough = argv.filter((a) => a !== '--electron');
    return main(passThrough);
  }
  const decision = buildDecision(root);
  if (decision.build) {
    console.log(`EAC Studio: building (npm run build): ${decision.reason} ...`);
    if (!runBuild(root)) return 1;
  }
  const electronArgs = [root, ...argv.filter((a, i) => a !== '--port' && argv[i - 1] !== '--port')];
  // the engine process runs on this Node (whose ABI npm built the natives for), not on Electron
  const env = { ...process.env, ELECTRON_RUN_AS_NODE: undefined, EAC_ENGINE_NODE: process.env.EAC_ENGINE_NODE ?? process.execPath };
  const child = spawn(found.path, electronArgs, { stdio: 'inherit', env });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

void run(process.argv.slice(2)).then((code) => process.exit(code));
