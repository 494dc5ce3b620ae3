// The house drawn from the code (issue 20): every relative import in src-main and src-renderer (static, dynamic
// and type-only, read with TypeScript's own pre-processor), then the rules the README's layout states:
// arrows go one way down the floors (renderer → api ← electron/server/cli → jobs → engine, store), and no circle
// runs through files of different rooms (folders). Arrows that break a rule today are listed below by name with
// the issue that removes them: a new one fails, and so does a listed one that is gone (delete its line).
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO } from './engine/helpers';

type Edge = readonly [from: string, to: string];

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : /\.(ts|svelte)$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

/** The script of a file: all of a .ts, the <script> blocks of a .svelte (its markup imports nothing). */
function scriptOf(file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  if (!file.endsWith('.svelte')) return text;
  return [...text.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]).join('\n');
}

/** A relative specifier as the bundler resolves it (extensionless, a folder's index.ts, or a .js spelling of a .ts). */
function resolveSpec(from: string, spec: string): string {
  const base = path.resolve(path.dirname(from), spec);
  const noJs = base.replace(/\.js$/, '');
  for (const c of [base, `${base}.ts`, path.join(base, 'index.ts'), `${noJs}.ts`]) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  throw new Error(`${path.relative(REPO, from)} imports "${spec}", which resolves to no file`);
}

function importGraph(): { files: string[]; edges: Edge[] } {
  const abs = [...sourceFiles(path.join(REPO, 'src-main')), ...sourceFiles(path.join(REPO, 'src-renderer'))];
  const rel = (f: string) => path.relative(REPO, f).split(path.sep).join('/');
  const edges: Edge[] = [];
  for (const f of abs)
    for (const imp of ts.preProcessFile(scriptOf(f), true, true).importedFiles)
      if (imp.fileName.startsWith('.')) edges.push([rel(f), rel(resolveSpec(f, imp.fileName))]);
  return { files: abs.map(rel), edges };
}

/** Strongly connected components with more than one file (Tarjan): each is a circle of imports. */
function circles(files: string[], edges: readonly Edge[]): string[][] {
  const next = new Map(files.map((f) => [f, [] as string[]]));
  for (const [a, b] of edges) next.get(a)?.push(b);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return out;
}

const roomOf = (file: string) => path.posix.dirname(file);
/** The floor of a src-main file: its first folder (engine, store, jobs, api, host, cli, server, electron). */
const floorOf = (file: string) => (file.startsWith('src-renderer/') ? 'renderer' : file.split('/')[1]);

/** Floors each floor must not import: nothing above it. */
const NOT_ABOVE: Record<string, readonly string[]> = {
  engine: ['store', 'jobs', 'api', 'cli', 'server', 'electron', 'host'],
  store: ['jobs', 'api', 'cli', 'server', 'electron'],
  api: ['jobs', 'cli', 'server', 'electron', 'host'],
  // the renderer reaches src-main through api/ only (it runs in the page, with no Node)
  renderer: ['engine', 'store', 'jobs', 'cli', 'server', 'electron', 'host'],
};

/**
 * Known arrows up a floor (none since issue 20; an entry added here must say why). Renderer entries name only the
 * target (any renderer file importing it), src-main entries the exact pair.
 */
const ALLOWED_UP: readonly { from: string; to: string; why: string }[] = [];

/**
 * Known circles inside one room (none since issue 20; a circle across rooms is never allowed). A circle passes when
 * its files are a subset of one entry, so a circle that shrinks still passes and one that grows or is new fails.
 */
const ALLOWED_ROOM_CIRCLES: readonly { files: readonly string[]; why: string }[] = [];

describe('the import graph of src-main and src-renderer', () => {
  const { files, edges } = importGraph();
  const allowedUp = (a: string, b: string) => ALLOWED_UP.some((x) => x.to === b && (x.from === a || (x.from === 'src-renderer/*' && a.startsWith('src-renderer/'))));
  const upArrows = edges.filter(([a, b]) => NOT_ABOVE[floorOf(a)]?.includes(floorOf(b)));
  const all = circles(files, edges);

  it('reads a graph of the size the tree has (the reader finds the imports)', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(files.length);
    // a type-only import and a dynamic import are arrows too
    expect(edges).toContainEqual(['src-main/jobs/studio/index.ts', 'src-main/jobs/registry.ts']);
    expect(edges).toContainEqual(['src-main/electron/launch.ts', 'src-main/server/main.ts']);
  });

  it('has no arrow up a floor beyond the listed ones', () => {
    expect(upArrows.filter(([a, b]) => !allowedUp(a, b)).map(([a, b]) => `${a} → ${b}`)).toEqual([]);
  });

  it('still has every listed arrow up a floor (delete the line of one that is gone)', () => {
    const gone = ALLOWED_UP.filter((x) => !upArrows.some(([a, b]) => b === x.to && (x.from === a || (x.from === 'src-renderer/*' && a.startsWith('src-renderer/')))));
    expect(gone.map((x) => `${x.from} → ${x.to}`)).toEqual([]);
  });

  it('has no circle through files of different rooms (jobs/worker ↔ jobs/studio went through jobs/registry)', () => {
    expect(all.filter((c) => new Set(c.map(roomOf)).size > 1)).toEqual([]);
  });

  it('has no circle inside a room beyond the listed ones, and each listed one is still there', () => {
    const inRoom = all.filter((c) => new Set(c.map(roomOf)).size === 1);
    expect(inRoom.filter((c) => !ALLOWED_ROOM_CIRCLES.some((x) => c.every((f) => x.files.includes(f))))).toEqual([]);
    const gone = ALLOWED_ROOM_CIRCLES.filter((x) => !inRoom.some((c) => c.every((f) => x.files.includes(f))));
    expect(gone.map((x) => x.why)).toEqual([]);
  });
});
