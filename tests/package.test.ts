// package.json's install policy against what is installed: `engines` admits only Node versions every build and test
// tool accepts, and every package with an install script is reviewed in `allowScripts` (issue 20), so an npm that
// blocks unreviewed install scripts still builds the natives and a tool upgrade that narrows Node support shows here.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './engine/helpers';

const require = createRequire(import.meta.url);
// semver is installed as a dependency of the dependencies (npm, electron-builder, node-abi all use it)
const semver = require('semver') as { subset(a: string, b: string): boolean; satisfies(v: string, r: string): boolean };
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const pkg = readJson(path.join(REPO, 'package.json')) as { engines: { node: string }; allowScripts: Record<string, boolean> };

describe('package.json install policy', () => {
  // the tools `npm ci`, `npm test`, `npm start` and `npm run build` run on; `npm run dist` (@electron/rebuild,
  // @electron/fuses: Node >= 22.12) is documented apart in the README
  const tools = ['vite', 'electron-vite', '@sveltejs/vite-plugin-svelte', 'vitest', 'better-sqlite3'];

  it.each(tools)('engines.node admits only Node versions %s accepts', (name) => {
    const theirs = readJson(path.join(REPO, 'node_modules', name, 'package.json')).engines.node as string;
    expect(semver.subset(pkg.engines.node, theirs), `${pkg.engines.node} ⊄ ${name}'s ${theirs}`).toBe(true);
  });

  it('engines.node admits the Node running the tests', () => {
    expect(semver.satisfies(process.versions.node, pkg.engines.node)).toBe(true);
  });

  it('every locked package with an install script is approved or denied in allowScripts', () => {
    const lock = readJson(path.join(REPO, 'package-lock.json')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const scripted = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([at]) => at.slice(at.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect([...new Set(scripted)].sort()).toEqual(Object.keys(pkg.allowScripts).sort());
    // the natives the app cannot run without are the approved ones
    expect(Object.keys(pkg.allowScripts).filter((n) => pkg.allowScripts[n]).sort()).toEqual(['better-sqlite3', 'electron', 'esbuild', 'onnxruntime-node']);
  });
});
