// Locate the package root (resources/, migrations/) from source (tsx) and from bundled output alike.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { internalError } from './errors';

let root: string | null = null;

export function packageRoot(): string {
  if (root) return root;
  // a bundle run from outside the checkout (scripts/device-bench.sh) names the checkout itself
  if (process.env.EAC_PACKAGE_ROOT) return (root = path.resolve(process.env.EAC_PACKAGE_ROOT));
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw internalError('cannot find the EAC Studio package root (no package.json above the engine)');
    dir = up;
  }
  root = dir;
  return dir;
}

export function resourcesDir(): string {
  return process.env.EAC_RESOURCES_DIR ?? path.join(packageRoot(), 'resources');
}

/**
 * The small fixtures (two trained test models, the world-a facts and tasks, public data samples)
 * used by tests, bench and the experiment. They ship inside the checkout (tests/fixtures) so a fresh
 * clone passes on its own; $EAC_FIXTURES points elsewhere (e.g. a larger data folder).
 */
export function fixturesDir(): string {
  return process.env.EAC_FIXTURES ?? path.join(packageRoot(), 'tests', 'fixtures');
}

/** Where the app keeps workspaces (ledgers) and its own small files: $EAC_DATA_DIR, else ~/.local/share/eac-studio (XDG_DATA_HOME respected). */
export function dataRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EAC_DATA_DIR) return path.resolve(env.EAC_DATA_DIR);
  const xdg = env.XDG_DATA_HOME ? path.resolve(env.XDG_DATA_HOME) : path.join(os.homedir(), '.local', 'share');
  return path.join(xdg, 'eac-studio');
}

/**
 * mkdir -p that fails once instead of looping: Node's recursive mkdir retries forever where creating a folder fails
 * with ENOENT although its parent exists (/proc, some FUSE and network file systems). This walks up to the deepest
 * existing ancestor, then creates each missing folder once (with `mode`, 0700 by default), throwing the first error
 * with the path it failed on. Returns the folders it created, outermost first.
 */
export function mkdirsOnce(dir: string, mode = 0o700): string[] {
  const missing: string[] = [];
  let d = path.resolve(dir);
  for (;;) {
    try {
      if (!fs.statSync(d).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${d}'`), { code: 'ENOTDIR', path: d });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.unshift(d);
      const up = path.dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  for (const m of missing) {
    try {
      fs.mkdirSync(m, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return missing;
}
