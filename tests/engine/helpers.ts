// Shared test helpers: where the fixtures are, their float64 references, small numeric utilities.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../../src-main/engine/checkpoint';
import { f32Bound, forwardDepth, maxAbs } from '../tolerance';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export { FIXTURES } from '../shared';
import { FIXTURES } from '../shared';

export type FixtureName = 'gpt2-world-a' | 'llama-world-a';
export const FIXTURE_NAMES: FixtureName[] = ['gpt2-world-a', 'llama-world-a'];

export interface RefCase {
  prompt: string;
  ids: number[];
  last_logits: number[];
  top5: number[];
  greedy20: number[];
  layer: number;
  mlp_key_last: number[];
  mlp_out_last: number[];
}

export interface Fixture {
  name: FixtureName;
  dir: string;
  cases: RefCase[];
}

/**
 * The fixture folder and its reference. Looks in tests/fixtures ($EAC_FIXTURES overrides);
 * the GPT-2 one also ships in the repo as resources/demo-model (reference kept in tests/engine/data).
 */
export function findFixture(name: FixtureName): Fixture | null {
  const shared = path.join(FIXTURES, name);
  if (fs.existsSync(path.join(shared, 'reference.json'))) {
    return { name, dir: shared, cases: JSON.parse(fs.readFileSync(path.join(shared, 'reference.json'), 'utf8')).cases };
  }
  if (name === 'gpt2-world-a') {
    const demo = path.join(REPO, 'resources/demo-model');
    const ref = path.join(REPO, 'tests/engine/data/gpt2-world-a.reference.json');
    if (fs.existsSync(path.join(demo, 'config.json')) && fs.existsSync(ref)) {
      return { name, dir: demo, cases: JSON.parse(fs.readFileSync(ref, 'utf8')).cases };
    }
  }
  return null;
}

export function fixtureMissingReason(name: FixtureName): string {
  return `fixture ${name} not found under ${FIXTURES} (set EAC_FIXTURES)`;
}

/**
 * Bound on |float32 last logits − reference| for a reference case: one float32 forward route against the
 * float64 reference, at the case's length and the fixture's shape (tests/tolerance.ts).
 */
export function referenceLogitBound(fx: Fixture, c: RefCase): number {
  return f32Bound(maxAbs(c.last_logits), forwardDepth(loadCheckpoint(fx.dir).config, c.ids.length), 1);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Deterministic normal samples (mulberry32 + Box-Muller). */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u()) * scale;
  return out;
}

/** Collected numbers the tests print at the end (parity errors for the README). */
export function report(label: string, value: number | string): void {
  console.log(`[numbers] ${label}: ${typeof value === 'number' ? value.toExponential(2) : value}`);
}
