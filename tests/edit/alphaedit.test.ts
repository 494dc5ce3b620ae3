// AlphaEdit: the factored, r × r projected solve equals the published update
// solve(P (KKᵀ + K_pK_pᵀ) + αI, P K Rᵀ) computed densely in float64; the preserved moment is model
// state that rebuilds exactly; and on the GPT-2 fixture an edit takes, stays in the null space of
// the statistics, and grows K_p K_pᵀ.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alphaEditLayerUpdate } from '../../src-main/engine/edit/update-alphaedit';
import { PreservedKeys, preservedKeysOf, project } from '../../src-main/engine/edit/preserved-keys';
import { nullspaceBasis, symmetricEigen } from '../../src-main/engine/edit/eigen';
import { Editor, loadProfile, statsProvider } from '../../src-main/engine/edit';
import { SolveCache, type Nullspace } from '../../src-main/engine/edit/solve-cache';
import { parseFacts } from '../../src-main/engine/facts';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { rng } from '../autodiff/gradcheck';
import { FIXTURES } from '../shared';

/** x = A⁻¹ b by Gaussian elimination with partial pivoting (A general, n × n; B [n, cols]) */
function solveDense(A: Float64Array, n: number, B: Float64Array, cols: number): Float64Array {
  const M = Float64Array.from(A);
  const X = Float64Array.from(B);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    for (let k = 0; k < n; k++) [M[c * n + k], M[p * n + k]] = [M[p * n + k], M[c * n + k]];
    for (let k = 0; k < cols; k++) [X[c * cols + k], X[p * cols + k]] = [X[p * cols + k], X[c * cols + k]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r * n + c] / M[c * n + c];
      for (let k = 0; k < n; k++) M[r * n + k] -= f * M[c * n + k];
      for (let k = 0; k < cols; k++) X[r * cols + k] -= f * X[c * cols + k];
    }
  }
  for (let r = 0; r < n; r++) for (let k = 0; k < cols; k++) X[r * cols + k] /= M[r * n + r];
  return X;
}

const F = 16;
const D = 5;

function randomSetup(seed: number) {
  const r = rng(seed);
  // C from 10 samples: rank 10 < F, so its null space is not empty
  const C = new Float64Array(F * F);
  for (let s = 0; s < 10; s++) {
    const k = Array.from({ length: F }, () => r() * 2 - 1);
    for (let i = 0; i < F; i++) for (let j = 0; j < F; j++) C[i * F + j] += (k[i] * k[j]) / 10;
  }
  const eig = symmetricEigen(C, F);
  const { rows, basis } = nullspaceBasis(eig, 1e-2);
  const ns: Nullspace = { key: 'test', statsKey: 'test', n: F, rows, basis, threshold: 1e-2, source: 'computed' };
  const vec = (len: number) => Float64Array.from({ length: len }, () => r() * 2 - 1);
  return { ns, vec };
}

describe('AlphaEdit layer update', () => {
  it('equals the published solve(P (KKᵀ + K_pK_pᵀ) + αI, P K Rᵀ)ᵀ in float64', async () => {
    const { ns, vec } = randomSetup(4);
    expect(ns.rows).toBeGreaterThan(2);
    const P = new Float64Array(F * F);
    for (let i = 0; i < ns.rows; i++) for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) P[a * F + b] += ns.basis[i * F + a] * ns.basis[i * F + b];
    const pk = new PreservedKeys();
    pk.add({}, [{ layer: 0, n: 3, keys: vec(3 * F) }]);
    pk.add({}, [{ layer: 0, n: 1, keys: vec(F) }]);
    const Cp = pk.accumulated(0, F);
    const n = 2;
    const K = [vec(F), vec(F)];
    const R = [vec(D), vec(D)];
    const alpha = 0.7;
    const upd = (await alphaEditLayerUpdate(K, R, ns, pk.projectedMoment(0, ns), alpha, D))!;
    // published: A = P (KKᵀ + Cp) + αI, rhs = P K Rᵀ [F, D]; ΔW (D × F) = Xᵀ
    const S = Float64Array.from(Cp);
    for (const k of K) for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) S[a * F + b] += k[a] * k[b];
    const A = new Float64Array(F * F);
    for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) {
      let s = 0;
      for (let c = 0; c < F; c++) s += P[a * F + c] * S[c * F + b];
      A[a * F + b] = s + (a === b ? alpha : 0);
    }
    const rhs = new Float64Array(F * D);
    for (let a = 0; a < F; a++) for (let d = 0; d < D; d++) {
      let s = 0;
      for (let j = 0; j < n; j++) {
        let pkj = 0;
        for (let c = 0; c < F; c++) pkj += P[a * F + c] * K[j][c];
        s += pkj * R[j][d];
      }
      rhs[a * D + d] = s;
    }
    const X = solveDense(A, F, rhs, D);
    let maxErr = 0;
    let maxAbs = 0;
    for (let d = 0; d < D; d++) for (let a = 0; a < F; a++) {
      let w = 0;
      for (let j = 0; j < n; j++) w += upd.Ut[j * D + d] * upd.Vt[j * F + a];
      maxErr = Math.max(maxErr, Math.abs(w - X[a * D + d]));
      maxAbs = Math.max(maxAbs, Math.abs(X[a * D + d]));
    }
    expect(maxAbs).toBeGreaterThan(1e-3);
    // the factors are float32: compare at float32 precision
    expect(maxErr / maxAbs).toBeLessThan(1e-5);
  });

  it('an empty null space writes nothing', async () => {
    const ns: Nullspace = { key: 'none', statsKey: 'none', n: F, rows: 0, basis: new Float64Array(0), threshold: 0, source: 'computed' };
    expect(await alphaEditLayerUpdate([new Float64Array(F)], [new Float64Array(D)], ns, new Float64Array(0), 10, D)).toBeNull();
  });
});

describe('PreservedKeys (K_p K_pᵀ as model state)', () => {
  it('the projected moment folded edit by edit equals Ûᵀ (Σ K Kᵀ) Û recomputed, and dropping an edit rebuilds it exactly', () => {
    const { ns, vec } = randomSetup(8);
    const pk = new PreservedKeys();
    const tags = [{}, {}, {}];
    const blocks = tags.map((_, i) => ({ layer: 2, n: i + 1, keys: vec((i + 1) * F) }));
    pk.add(tags[0], [blocks[0]]);
    pk.projectedMoment(2, ns);
    pk.add(tags[1], [blocks[1]]);
    pk.add(tags[2], [blocks[2]]);
    const folded = Float64Array.from(pk.projectedMoment(2, ns));
    const fresh = new PreservedKeys();
    fresh.set(blocks);
    expect(fresh.projectedMoment(2, ns)).toEqual(folded);
    // against Ûᵀ C_p Û from the dense accumulated matrix
    const Cp = pk.accumulated(2, F);
    const r = ns.rows;
    for (let i = 0; i < r; i++) for (let k = 0; k < r; k++) {
      let s = 0;
      for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) s += ns.basis[i * F + a] * Cp[a * F + b] * ns.basis[k * F + b];
      expect(folded[i * r + k]).toBeCloseTo(s, 10);
    }
    pk.drop(tags[1]);
    const without = new PreservedKeys();
    without.set([blocks[0], blocks[2]]);
    expect(pk.projectedMoment(2, ns)).toEqual(without.projectedMoment(2, ns));
    expect(pk.accumulated(2, F)).toEqual(without.accumulated(2, F));
    expect(project(ns, blocks[0].keys, 1)).toHaveLength(r);
    // a sync that only appends keeps what was folded; one that changes an earlier block refolds
    const synced = new PreservedKeys();
    synced.set([blocks[0]]);
    const b0 = Float64Array.from(synced.projectedMoment(2, ns));
    synced.set([{ ...blocks[0], keys: Float64Array.from(blocks[0].keys) }, blocks[2]]);
    expect(synced.projectedMoment(2, ns)).toEqual(without.projectedMoment(2, ns));
    synced.set([blocks[1]]);
    const only1 = new PreservedKeys();
    only1.set([blocks[1]]);
    expect(synced.projectedMoment(2, ns)).toEqual(only1.projectedMoment(2, ns));
    expect(synced.projectedMoment(2, ns)).not.toEqual(b0);
  });
});

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-alphaedit-test-'));
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

/** The gpt2 fixture with its profile (400 statistics samples), an Editor on it, and the world-a requests. */
function gpt2AlphaEdit() {
  const model = LoadedModel.open(path.join(FIXTURES, 'gpt2-world-a'));
  const profile = loadProfile('gpt2-world-a');
  profile.stats.samples = 400;
  const editor = new Editor(model, profile, statsProvider(model, profile, { cacheDir }));
  const reqs = parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests;
  return { model, profile, editor, reqs };
}

describe('AlphaEdit on gpt2-world-a', () => {
  it('edits through Editor.edit: the fact takes, ΔW lies in the null space of C, and K_p K_pᵀ grows by the edit', async () => {
    const { model, profile, editor, reqs } = gpt2AlphaEdit();
    try {
      const res = await editor.edit('alphaedit', [reqs[0]]);
      expect(res.metrics[0].reliability).toBeGreaterThanOrEqual(0.5);
      expect(res.metrics[0].reliability).toBeGreaterThan(res.preMetrics[0].reliability);
      expect(res.layers).toEqual([1, 2, 3]);
      expect(res.preservedKeys!.map((b) => b.layer)).toEqual([1, 2, 3]);
      expect(preservedKeysOf(model).blocks()).toHaveLength(3);
      // every Vt row is in span(Û): Vt − (Vt Ûᵀ) Û = 0
      const F = model.cfg.ffn;
      const ns = (res.details.nullspace as Record<number, { rows: number }>)[1];
      expect(ns.rows).toBeGreaterThan(F / 3);
      expect(ns.rows).toBeLessThan(F);
      // the eigendecomposition was persisted beside the statistics: a fresh cache reads it back
      expect(fs.readdirSync(path.join(cacheDir, 'stats')).filter((f) => f.endsWith('.eig.bin'))).toHaveLength(3);
      const fresh = new SolveCache();
      for (const d of res.deltas) {
        const U = await fresh.nullspace({ key: res.statsKeys[d.layer], cacheDir }, profile.alphaedit.nullspaceThreshold, F);
        expect(U.source).toBe('disk');
        let worst = 0;
        let size = 0;
        for (let j = 0; j < d.rank; j++) {
          const v = Float64Array.from(d.Vt.subarray(j * F, j * F + F));
          const c = project(U, v, 1);
          const back = new Float64Array(F);
          for (let i = 0; i < U.rows; i++) for (let a = 0; a < F; a++) back[a] += c[i] * U.basis[i * F + a];
          for (let a = 0; a < F; a++) {
            worst = Math.max(worst, Math.abs(v[a] - back[a]));
            size = Math.max(size, Math.abs(v[a]));
          }
        }
        expect(worst / size).toBeLessThan(1e-5);
      }
      expect(fresh.eigendecompositions).toBe(0);
      // a second edit folds the first's keys; unapply takes its own keys out again
      const res2 = await editor.edit('eac-alphaedit', [reqs[1]]);
      expect(preservedKeysOf(model).blocks()).toHaveLength(6);
      expect((res2.details.requests as { anchors: { count: number } }[])[0].anchors.count).toBe(96); // gpt2-world-a keeps 96 anchors (its profile says why)
      editor.unapply(res2.deltas);
      expect(preservedKeysOf(model).blocks()).toHaveLength(3);
    } finally {
      await model.release();
    }
  }, 300_000);

  it('a batch of 2 facts is one rank-2 update whose keys add two rows to K_p K_pᵀ, with reliability per fact', async () => {
    const { model, editor, reqs } = gpt2AlphaEdit();
    try {
      const res = await editor.edit('alphaedit', [reqs[3], reqs[4]]);
      expect(res.deltas.map((d) => d.rank)).toEqual([2, 2, 2]);
      expect(res.metrics.map((m) => m.caseId)).toEqual([reqs[3].caseId, reqs[4].caseId]);
      expect(res.preservedKeys!.map((b) => b.n)).toEqual([2, 2, 2]);
      expect(res.metrics.reduce((a, m) => a + m.reliability, 0)).toBeGreaterThan(res.preMetrics.reduce((a, m) => a + m.reliability, 0));
    } finally {
      await model.release();
    }
  }, 300_000);
});
