// Independent re-derivations of the update formulas and the optimiser pieces.
import { describe, expect, it } from 'vitest';
import { cholesky } from '../../src-main/engine/edit/linalg';
import { denseDelta, LiveEdits, stackDeltas } from '../../src-main/engine/edit/live';
import type { LoadedModel } from '../../src-main/engine/runtime/model';
import { memitLayerUpdate } from '../../src-main/engine/edit/update-memit';
import { romeUpdate } from '../../src-main/engine/edit/update-rome';
import { adamStep } from '../../src-main/engine/edit/adam';
import { anchorMask } from '../../src-main/engine/edit/anchors';
import { contextTypeWeights } from '../../src-main/engine/edit/templates';
import { rng } from '../autodiff/gradcheck';
import { F32_U } from '../tolerance';

/** Gauss–Jordan inverse: deliberately not the Cholesky path the engine uses. */
function inverse(A: Float64Array, n: number): Float64Array {
  const M = Array.from({ length: n }, (_, i) => [...Array.from(A.subarray(i * n, i * n + n)), ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    const d = M[c][c];
    for (let j = 0; j < 2 * n; j++) M[c][j] /= d;
    for (let r = 0; r < n; r++) if (r !== c) {
      const f = M[r][c];
      for (let j = 0; j < 2 * n; j++) M[r][j] -= f * M[c][j];
    }
  }
  return Float64Array.from(M.flatMap((row) => row.slice(n)));
}

function spd(n: number, r: () => number): Float64Array {
  const X = Array.from({ length: n * (n + 3) }, () => r());
  const C = new Float64Array(n * n);
  const m = n + 3;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += X[i * m + k] * X[j * m + k];
    C[i * n + j] = s / m;
  }
  return C;
}
const vec = (n: number, r: () => number, scale = 1) => Float64Array.from({ length: n }, () => r() * scale);
const matvec = (W: Float64Array, rows: number, cols: number, x: ArrayLike<number>) =>
  Float64Array.from({ length: rows }, (_, i) => {
    let s = 0;
    for (let j = 0; j < cols; j++) s += W[i * cols + j] * x[j];
    return s;
  });

describe('ROME rank-one update', () => {
  it('maps the subject key to v + z and points along C⁻¹k*', () => {
    const r = rng(11);
    const F = 12;
    const D = 5;
    const C = spd(F, r);
    const kStar = vec(F, r);
    const kCur = Float64Array.from(kStar, (x) => x + 0.05 * r());
    const z = vec(D, r, 3);
    const { Ut, Vt } = romeUpdate(cholesky(C, F), F, kStar, kCur, z);
    const dW = denseDelta([{ layer: 0, tensor: 't', rank: 1, Ut, Vt }], D, F);
    const out = matvec(dW, D, F, kCur);
    out.forEach((v, i) => expect(v).toBeCloseTo(z[i], 4));
    // rows of ΔW are multiples of (C⁻¹ k*)ᵀ computed by an independent inverse
    const u = matvec(inverse(C, F), F, F, kStar);
    const ratio = dW[0] / u[0];
    for (let j = 0; j < F; j++) expect(dW[j] / u[j]).toBeCloseTo(ratio, 3);
  });
});

describe('MEMIT layer update', () => {
  it('n = 1 writes the Sherman–Morrison fraction s/(1+s) of the residual, s = kᵀ(λC)⁻¹k', () => {
    const r = rng(5);
    const F = 10;
    const D = 4;
    const C = spd(F, r);
    const lambda = 3;
    const k = vec(F, r);
    const res = vec(D, r);
    const { Ut, Vt } = memitLayerUpdate([k], [res], cholesky(C, F), lambda, F, D);
    const dW = denseDelta([{ layer: 0, tensor: 't', rank: 1, Ut, Vt }], D, F);
    const Ci = inverse(C, F);
    const s = matvec(Ci, F, F, k).reduce((a, v, i) => a + v * k[i], 0) / lambda;
    matvec(dW, D, F, k).forEach((v, i) => expect(v).toBeCloseTo((res[i] * s) / (1 + s), 6));
  });
  it('n = 3 satisfies the normal equations ΔW (λC + K Kᵀ) = R Kᵀ', () => {
    const r = rng(9);
    const F = 9;
    const D = 4;
    const n = 3;
    const C = spd(F, r);
    const K = Array.from({ length: n }, () => vec(F, r));
    const R = Array.from({ length: n }, () => vec(D, r));
    const { Ut, Vt } = memitLayerUpdate(K, R, cholesky(C, F), 0.5, F, D);
    const dW = denseDelta([{ layer: 0, tensor: 't', rank: n, Ut, Vt }], D, F);
    const M = Float64Array.from(C, (c) => 0.5 * c);
    for (const k of K) for (let a = 0; a < F; a++) for (let b = 0; b < F; b++) M[a * F + b] += k[a] * k[b];
    for (let i = 0; i < D; i++)
      for (let b = 0; b < F; b++) {
        let lhs = 0;
        for (let a = 0; a < F; a++) lhs += dW[i * F + a] * M[a * F + b];
        const rhs = K.reduce((acc, k, j) => acc + R[j][i] * k[b], 0);
        expect(lhs).toBeCloseTo(rhs, 4);
      }
  });
});

describe('EAC anchors', () => {
  it('percentile threshold interpolates like numpy.percentile', () => {
    const score = Float64Array.from([0.1, -0.5, 0.3, 0.9, -0.2, 0.05, 0.7, -0.8, 0.4, 0.6]);
    // |score| sorted: .05 .1 .2 .3 .4 .5 .6 .7 .8 .9 → P80 at 0.8·(10−1) = 7.2 → 0.7 + 0.2·0.1 = 0.72
    const { mask, gamma } = anchorMask(score, { mode: 'percentile', value: 80 });
    expect(gamma).toBeCloseTo(0.72, 12);
    expect([...mask]).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0]);
  });
  it('top fraction keeps exactly max(⌊f·n⌋, 1) like the authors\' torch.topk(max(int(n·f), 1))', () => {
    const score = Float64Array.from({ length: 192 }, (_, i) => Math.sin(i) * (i + 1));
    expect(anchorMask(score, { mode: 'top_fraction', value: 0.2 }).mask.reduce((a, b) => a + b, 0)).toBe(38);
    expect(anchorMask(score, { mode: 'top_fraction', value: 0.05 }).mask.reduce((a, b) => a + b, 0)).toBe(9);
    expect(anchorMask(Float64Array.from([3, 1, 2]), { mode: 'top_fraction', value: 0.05 }).mask).toEqual(Uint8Array.from([1, 0, 0]));
  });
  it('top fraction keeps that share of the largest |score|', () => {
    const r = rng(2);
    const score = vec(200, r);
    const { mask } = anchorMask(score, { mode: 'top_fraction', value: 0.2 });
    expect(mask.reduce((a, b) => a + b, 0)).toBe(40);
    const kept = [...score].filter((_, i) => mask[i]).map(Math.abs);
    const dropped = [...score].filter((_, i) => !mask[i]).map(Math.abs);
    expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped));
  });
});

describe('MEMIT key weighting (compute_ks: mean of per-context-type means)', () => {
  it('"{}" is a type of its own: with MEMIT\'s [[10, 5]] it carries ½, each generated row 1/10', () => {
    expect(contextTypeWeights([[10, 5]])).toEqual([0.5, 0.1, 0.1, 0.1, 0.1, 0.1]);
  });
  it('two generated types of 10 rows: ⅓ for "{}", 1/30 per generated row, summing to 1', () => {
    const w = contextTypeWeights([[5, 10], [10, 10]]);
    expect(w).toHaveLength(21);
    expect(w[0]).toBeCloseTo(1 / 3, 15);
    for (const x of w.slice(1)) expect(x).toBeCloseTo(1 / 30, 15);
    expect(w.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 14);
  });
});

describe('Adam', () => {
  it('matches torch.optim.Adam defaults on two hand-computed steps', () => {
    const x = Float64Array.from([1, -2]);
    const st = { m: new Float64Array(2), v: new Float64Array(2), t: 0 };
    adamStep(x, Float64Array.from([0.5, -4]), st, 0.1);
    // step 1: m̂ = g, v̂ = g² → x -= lr·g/|g| (eps negligible)
    expect(x[0]).toBeCloseTo(0.9, 7);
    expect(x[1]).toBeCloseTo(-1.9, 7);
    adamStep(x, Float64Array.from([1, 0]), st, 0.1);
    const m0 = (0.9 * 0.05 + 0.1 * 1) / (1 - 0.81);
    const v0 = (0.999 * 0.00025 + 0.001 * 1) / (1 - 0.999 ** 2);
    expect(x[0]).toBeCloseTo(0.9 - (0.1 * m0) / (Math.sqrt(v0) + 1e-8), 7);
    // masked coordinates stay put
    const y = Float64Array.from([3, 3]);
    adamStep(y, Float64Array.from([1, 1]), { m: new Float64Array(2), v: new Float64Array(2), t: 0 }, 0.5, Uint8Array.from([1, 0]));
    expect(y[1]).toBe(3);
  });
});

/** ΔW[i][j] = Σ over deltas and rank rows k of Ut[k][i]·Vt[k][j], summed column-first (not live.ts's loop order). */
function handDelta(ds: readonly { rank: number; Ut: ArrayLike<number>; Vt: ArrayLike<number> }[], d: number, f: number): Float64Array {
  const out = new Float64Array(d * f);
  for (let j = 0; j < f; j++)
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (const x of ds) for (let k = 0; k < x.rank; k++) s += x.Ut[k * d + i] * x.Vt[k * f + j];
      out[i * f + j] = s;
    }
  return out;
}

describe('live factor stacking', () => {
  it('folds to the dense rank-d form exactly when the stacked rank exceeds d', () => {
    const r = rng(4);
    const D = 4;
    const F = 6;
    const ds = [3, 2].map((rank) => ({ layer: 1, tensor: 't', rank, Ut: Float32Array.from(vec(rank * D, r)), Vt: Float32Array.from(vec(rank * F, r)) }));
    const stacked = stackDeltas(ds, D, F);
    // ΔW written out entry by entry from the five rank-one terms, not through the engine's accumulator
    const want = handDelta(ds, D, F);
    expect(stacked.rank).toBe(D);
    expect([...stacked.Ut]).toEqual(Array.from({ length: D * D }, (_, k) => (Math.floor(k / D) === k % D ? 1 : 0)));
    // the dense form stores ΔW (float64) in float32 once, and Ut = I reads it back exactly: one rounding
    handDelta([{ ...stacked }], D, F).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(F32_U * Math.abs(want[i])));
    // at or under rank d the rows are stacked as they are, and still give the same ΔW
    const small = stackDeltas([ds[1], ds[1]], D, F);
    expect(small.rank).toBe(4);
    expect([...small.Ut]).toEqual([...ds[1].Ut, ...ds[1].Ut]);
    const twice = handDelta([ds[1]], D, F).map((v) => 2 * v);
    handDelta([{ ...small }], D, F).forEach((v, i) => expect(v).toBeCloseTo(twice[i], 5));
  });
});

describe('live edit set', () => {
  it('keeps ΔW per layer incrementally, bit-identical to a rebuild from scratch, folding past rank d', () => {
    const r = rng(8);
    const D = 4;
    const F = 6;
    const model = { cfg: { hidden: D, ffn: F }, factors: new Map() } as unknown as LoadedModel;
    const live = new LiveEdits(model);
    const mk = (layer: number, rank: number) => ({ layer, tensor: `t${layer}`, rank, Ut: Float32Array.from(vec(rank * D, r)), Vt: Float32Array.from(vec(rank * F, r)) });
    const ds = [mk(1, 1), mk(1, 2), mk(2, 1), mk(1, 3), mk(1, 1)];
    live.push(ds[0]);
    live.denseTotal(1); // start tracking, then grow incrementally
    for (const x of ds.slice(1)) live.push(x);
    const fresh = new LiveEdits({ cfg: { hidden: D, ffn: F }, factors: new Map() } as unknown as LoadedModel);
    fresh.set(ds);
    expect([...live.denseTotal(1)]).toEqual([...fresh.denseTotal(1)]);
    expect([...live.denseTotal(1)]).toEqual([...denseDelta(ds.filter((x) => x.layer === 1), D, F)]);
    // layer 1 stacks rank 7 > d = 4: folded to the dense form, the same feeds either way
    expect(model.factors.get(1)!.rank).toBe(D);
    expect([...model.factors.get(1)!.Vt]).toEqual([...(fresh.model.factors.get(1)!.Vt)]);
    live.drop([ds[3]]);
    expect(model.factors.get(1)!.rank).toBe(4);
    expect([...live.denseTotal(1)]).toEqual([...denseDelta([ds[0], ds[1], ds[4]], D, F)]);
  });
});
