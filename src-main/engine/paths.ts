// Locate the package root (resources/, migrations/) from source (tsx) and from bundled output alike.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the EAC Studio package root (no package.json above the engine)');
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
