// Whether electron-vite's out/ still matches the sources, and building it when it does not. `npm start` (the
// Electron window) and headless mode load what out/ holds; without this check a `git pull` or a local edit left
// them running the previous build, since only a missing out/ used to trigger `npm run build`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** What `electron-vite build` reads (relative to the package root): both source trees and the build config. */
export const BUILD_SOURCES = ['src-main', 'src-renderer', 'electron.vite.config.ts'] as const;

/** What it writes that the app loads: the main and engine entries, the preload and the renderer page. */
export const BUILD_OUTPUTS = ['out/main/index.js', 'out/main/engine.js', 'out/preload/index.cjs', 'out/renderer/index.html'] as const;

export type BuildDecision = { build: false } | { build: true; reason: string };

interface Stamped {
  file: string;
  mtimeMs: number;
}

/** The most recently modified regular file under `p` (a file or a folder), or null when there is none. */
function newestFile(p: string): Stamped | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return null;
  }
  if (st.isFile()) return { file: p, mtimeMs: st.mtimeMs };
  if (!st.isDirectory()) return null;
  let best: Stamped | null = null;
  for (const name of fs.readdirSync(p)) {
    const hit = newestFile(path.join(p, name));
    if (hit && (!best || hit.mtimeMs > best.mtimeMs)) best = hit;
  }
  return best;
}

/**
 * Build when an output is missing, or when any source file was modified after the oldest output (a pull or a
 * checkout stamps the files it changes with the current time). Where the sources are absent (an installed
 * package ships only out/) there is nothing to compare, and what out/ holds is used.
 */
export function buildDecision(root: string, outputs: readonly string[] = BUILD_OUTPUTS, sources: readonly string[] = BUILD_SOURCES): BuildDecision {
  let oldest: Stamped | null = null;
  for (const rel of outputs) {
    const file = path.join(root, rel);
    if (!fs.existsSync(file)) return { build: true, reason: `${rel} is missing` };
    const mtimeMs = fs.statSync(file).mtimeMs;
    if (!oldest || mtimeMs < oldest.mtimeMs) oldest = { file, mtimeMs };
  }
  if (!oldest) return { build: false };
  let newest: Stamped | null = null;
  for (const rel of sources) {
    const hit = newestFile(path.join(root, rel));
    if (hit && (!newest || hit.mtimeMs > newest.mtimeMs)) newest = hit;
  }
  if (newest && newest.mtimeMs > oldest.mtimeMs)
    return { build: true, reason: `${path.relative(root, newest.file)} is newer than ${path.relative(root, oldest.file)}` };
  return { build: false };
}

/** Runs `electron-vite build` in `root` with its output on this terminal; true when it succeeded. */
export function runBuild(root: string): boolean {
  const bin = path.join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  return spawnSync(process.execPath, [bin, 'build'], { cwd: root, stdio: 'inherit' }).status === 0;
}
