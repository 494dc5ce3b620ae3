// The built Electron main process loads no native module, and the bundled engine (what the
// packaged app runs as a utilityProcess) works: `electron-vite build` into a scratch folder under
// out/ (so node_modules resolve as they do for out/main), then
//  - walk every import (static and dynamic) reachable from main/index.js and require() string in
//    those files: no better-sqlite3, no onnxruntime-node, no .node file;
//  - the same walk from main/engine.js does reach both natives (the walk can see them);
//  - EngineClient runs main/engine.js on this Node: opens the demo model's workspace and generates.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { init, parse } from 'es-module-lexer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/jobs/client';
import { packageRoot } from '../../src-main/engine/paths';
import { tmpDir } from '../jobs/helpers';

const ROOT = packageRoot();
const NATIVE = /^(better-sqlite3|onnxruntime-node)(\/|$)|\.node$/;

/** Every module specifier reachable from `entry` (relative ones followed), with the file that imports it. */
async function reachableImports(entry: string): Promise<{ from: string; spec: string }[]> {
  await init;
  const seen = new Set<string>();
  const out: { from: string; spec: string }[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = fs.readFileSync(file, 'utf8');
    const [imports] = parse(src);
    const specs = imports.map((i) => i.n).filter((n): n is string => typeof n === 'string');
    // CommonJS-style loads (createRequire) are not ES imports: catch require("x") literals too
    for (const m of src.matchAll(/\brequire\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) specs.push(m[1]);
    for (const spec of specs) {
      out.push({ from: path.relative(path.dirname(entry), file), spec });
      if (spec.startsWith('./') || spec.startsWith('../')) visit(path.resolve(path.dirname(file), spec));
    }
  };
  visit(entry);
  return out;
}

describe('the built Electron main bundle', () => {
  const outDir = path.join(ROOT, 'out', `.test-bundle-${process.pid}`);
  const data = tmpDir('eac-bundle-');
  beforeAll(() => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build', '--outDir', outDir], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`electron-vite build failed:\n${r.stdout}\n${r.stderr}`);
  }, 300_000);
  afterAll(() => {
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });

  it('main/index.js reaches no native module; main/engine.js reaches both', async () => {
    const main = await reachableImports(path.join(outDir, 'main', 'index.js'));
    expect(main.length).toBeGreaterThan(3);
    expect(main.filter((i) => NATIVE.test(i.spec))).toEqual([]);
    // the engine is built apart from main and carries the natives: proof the walk sees them
    const engine = await reachableImports(path.join(outDir, 'main', 'engine.js'));
    const natives = new Set(engine.filter((i) => NATIVE.test(i.spec)).map((i) => i.spec));
    expect([...natives].sort()).toEqual(['better-sqlite3', 'onnxruntime-node']);
    // and main starts the engine from that file, next to itself
    expect(fs.readFileSync(path.join(outDir, 'main', 'index.js'), 'utf8')).toContain('"engine.js"');
  });

  it('the bundled engine (what the packaged app runs) opens the demo workspace and generates on Node', async () => {
    const engine = new EngineClient({ entry: pathToFileURL(path.join(outDir, 'main', 'engine.js')) });
    try {
      const info = await engine.call('workspace.open', {
        modelDir: path.join(ROOT, 'resources', 'demo-model'),
        workspaceDir: path.join(data, 'ws'),
      });
      expect(info.model.arch).toBe('gpt2');
      expect(info.dbFile.startsWith(path.join(data, 'ws'))).toBe(true);
      const [row] = await engine.call('generate', { prompts: ['Nyxlax Sovhyv was born in'], maxNewTokens: 4, stopAtEos: false });
      expect(row.newIds.length).toBe(4);
      expect(engine.pid).not.toBe(process.pid);
    } finally {
      await engine.close();
    }
  });
});
