// `npm start` and headless mode rebuild out/ when it is missing or older than the sources (issue 20): the decision
// on a scratch tree whose mtimes are set explicitly, so no clock or build is involved.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILD_OUTPUTS, buildDecision } from '../../src-main/host/build-freshness';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-build-fresh-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const T0 = new Date('2026-01-01T00:00:00Z');
const later = (s: number) => new Date(T0.getTime() + s * 1000);
let n = 0;

/** A package root with the sources at T0 and every output at T0 + 10 s. */
function tree(): string {
  const root = path.join(tmp, `r${n++}`);
  const put = (rel: string, at: Date) => {
    const f = path.join(root, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, rel);
    fs.utimesSync(f, at, at);
  };
  for (const rel of ['src-main/engine/a.ts', 'src-main/jobs/deep/b.ts', 'src-renderer/App.svelte', 'electron.vite.config.ts']) put(rel, T0);
  for (const rel of BUILD_OUTPUTS) put(rel, later(10));
  return root;
}
const touch = (root: string, rel: string, at: Date) => fs.utimesSync(path.join(root, rel), at, at);

describe('buildDecision', () => {
  it('keeps out/ when every output is newer than every source', () => {
    expect(buildDecision(tree())).toEqual({ build: false });
  });

  it('builds when an output is missing, naming it', () => {
    const root = tree();
    fs.rmSync(path.join(root, 'out/preload/index.cjs'));
    expect(buildDecision(root)).toEqual({ build: true, reason: 'out/preload/index.cjs is missing' });
  });

  it.each([
    ['a nested src-main file', 'src-main/jobs/deep/b.ts'],
    ['a renderer file', 'src-renderer/App.svelte'],
    ['the build config', 'electron.vite.config.ts'],
  ])('builds when %s is newer than the oldest output, naming both', (_what, rel) => {
    const root = tree();
    touch(root, 'out/renderer/index.html', later(5)); // the oldest output
    touch(root, rel, later(7)); // older than the other outputs, newer than that one
    expect(buildDecision(root)).toEqual({ build: true, reason: `${rel} is newer than out/renderer/index.html` });
  });

  it('compares only the outputs it is given (headless mode checks out/renderer alone)', () => {
    const root = tree();
    touch(root, 'out/main/index.js', T0);
    touch(root, 'src-main/engine/a.ts', later(1));
    expect(buildDecision(root, ['out/renderer/index.html']).build).toBe(false);
    expect(buildDecision(root).build).toBe(true);
  });

  it('uses out/ as it is where the sources are absent (an installed package)', () => {
    const root = tree();
    for (const d of ['src-main', 'src-renderer', 'electron.vite.config.ts']) fs.rmSync(path.join(root, d), { recursive: true });
    expect(buildDecision(root)).toEqual({ build: false });
  });
});
