// Blocked right-looking Cholesky, in place, with the O(n³) part on onnxruntime: plain JS factorises
// at ≈2.5 GFLOP/s, while ORT's MatMul is many times faster — minutes vs seconds at LLaMA's 14336.
//
// Memory rule: the factor overwrites the matrix it is given (one n² buffer); everything else is a
// panel of at most n × block elements (the copied column panel, ORT's L21 and each column block of
// the trailing update), so a solve never holds more than the matrix and its factor (two n² buffers).
// For each column panel [k0, k0+b):
//   1. L11 = chol(A11) in JS, in place (b³/3);
//   2. L21 = A21 L11⁻ᵀ on ORT (A21 copied to a panel, L11⁻¹ in JS), written back in place;
//   3. A22 ← A22 − L21 L21ᵀ on ORT one block of columns at a time, lower triangle only.
import * as ort from 'onnxruntime-node';
import { Graph } from '../graph/ir';
import { serializeModel } from '../onnx/writer';
import { Alloc, defaultAlloc } from './alloc';
import { choleskyDiagonalBlock, choleskyInPlace } from './linalg';
import { internalError } from '../errors';

const abtSessions = new Map<'float32' | 'float64', Promise<ort.InferenceSession>>();

/** A session computing A·Bᵀ for A [m, k], B [p, k] (model-independent: no weights, tiny). */
function abtSession(dtype: 'float32' | 'float64'): Promise<ort.InferenceSession> {
  let s = abtSessions.get(dtype);
  if (!s) {
    const g = new Graph(`abt_${dtype}`, dtype);
    const a = g.input('A', dtype, ['m', 'k']);
    const b = g.input('B', dtype, ['p', 'k']);
    g.output(g.matmul(a, g.transpose(b, [1, 0])), 'Y');
    s = ort.InferenceSession.create(serializeModel(g), { graphOptimizationLevel: 'all' });
    abtSessions.set(dtype, s);
    s.catch(() => abtSessions.delete(dtype));
  }
  return s;
}

type Arr = Float32Array | Float64Array;

/**
 * Y = A·Bᵀ on onnxruntime, A [m, k] and B [p, k] row-major (subarrays are passed without copying);
 * Y [m, p] is a new array allocated by the binding and reported to `alloc.external`.
 */
export async function matmulABt<T extends Arr>(A: T, m: number, B: T, p: number, k: number, alloc: Alloc = defaultAlloc): Promise<T> {
  const dtype = A instanceof Float32Array ? 'float32' : 'float64';
  const s = await abtSession(dtype);
  const out = await s.run({ A: new ort.Tensor(dtype, A, [m, k]), B: new ort.Tensor(dtype, B, [p, k]) });
  const Y = out.Y.data as T;
  alloc.external(Y.length, dtype === 'float64' ? 8 : 4, 'ort A·Bᵀ');
  return Y;
}

/** Inverse of the lower-triangular kb × kb block of A at (k0, k0) (row stride n), as a kb × kb array. */
function invertLowerBlock(A: Float64Array, n: number, k0: number, kb: number, alloc: Alloc): Float64Array {
  const X = alloc.f64(kb * kb, 'L11⁻¹');
  // row i of L⁻¹ = (e_i − Σ_{k<i} L[i,k] · row k of L⁻¹) / L[i,i]: contiguous row updates
  for (let i = 0; i < kb; i++) {
    const li = (k0 + i) * n + k0;
    const xi = i * kb;
    for (let k = 0; k < i; k++) {
      const l = A[li + k];
      if (l === 0) continue;
      const xk = k * kb;
      for (let c = 0; c <= k; c++) X[xi + c] -= l * X[xk + c];
    }
    const inv = 1 / A[li + i];
    for (let c = 0; c < i; c++) X[xi + c] *= inv;
    X[xi + i] = inv;
  }
  return X;
}

export interface BlockedCholeskyOptions {
  /** panel width (default 512) */
  block?: number;
  /** where panel buffers come from (tests count them) */
  alloc?: Alloc;
}

/**
 * Overwrites A (n × n, row-major; only the lower triangle is read) with its lower Cholesky factor,
 * upper triangle zeroed — the contract of linalg.choleskyInPlace, for large n. Extra memory: panels
 * of at most n × block elements. Throws NotPositiveDefiniteError naming the global pivot index.
 */
export async function choleskyBlockedInPlace(A: Float64Array, n: number, opts: BlockedCholeskyOptions = {}): Promise<void> {
  const block = opts.block ?? 512;
  const alloc = opts.alloc ?? defaultAlloc;
  if (A.length !== n * n) throw internalError(`choleskyBlockedInPlace: A has ${A.length} elements, expected ${n * n}`);
  if (n <= block) return choleskyInPlace(A, n);
  // one panel buffer reused for every column panel (A21 copied contiguous)
  const panel = alloc.f64((n - Math.min(block, n)) * block, 'A21 panel');
  for (let k0 = 0; k0 < n; k0 += block) {
    const kb = Math.min(block, n - k0);
    try {
      choleskyDiagonalBlock(A, n, k0, kb);
    } catch (e) {
      (e as Error).message = `${(e as Error).message} (panel at row ${k0})`;
      throw e;
    }
    const s = k0 + kb;
    const rest = n - s;
    if (rest === 0) break;
    const P = panel.subarray(0, rest * kb);
    for (let i = 0; i < rest; i++) P.set(A.subarray((s + i) * n + k0, (s + i) * n + k0 + kb), i * kb);
    const inv = invertLowerBlock(A, n, k0, kb, alloc);
    // L21 = A21 L11⁻ᵀ = A21 · (L11⁻¹)ᵀ
    const L21 = await matmulABt(P, rest, inv, kb, kb, alloc);
    for (let i = 0; i < rest; i++) A.set(L21.subarray(i * kb, i * kb + kb), (s + i) * n + k0);
    // trailing update, lower triangle, one block of columns at a time: columns [c0, c1) of A22
    // from row c0 down need L21[c0..rest) · L21[c0..c1)ᵀ (the tall operand is never transposed,
    // which is what ORT's MatMul is fastest at)
    for (let c0 = 0; c0 < rest; c0 += block) {
      const c1 = Math.min(rest, c0 + block);
      const cb = c1 - c0;
      const Y = await matmulABt(L21.subarray(c0 * kb, rest * kb), rest - c0, L21.subarray(c0 * kb, c1 * kb), cb, kb, alloc);
      for (let i = c0; i < rest; i++) {
        const row = (s + i) * n + s;
        const yrow = (i - c0) * cb - c0;
        const jEnd = Math.min(c1 - 1, i);
        for (let j = c0; j <= jEnd; j++) A[row + j] -= Y[yrow + j];
      }
    }
  }
  for (let i = 0; i < n; i++) A.fill(0, i * n + i + 1, i * n + n);
}

/**
 * Lower Cholesky factor of A as a new array (A untouched): one copy of A factorised in place, so
 * A and its factor are the only n² buffers.
 */
export async function choleskyBlocked(A: Float64Array, n: number, block = 512): Promise<Float64Array> {
  const L = Float64Array.from(A);
  await choleskyBlockedInPlace(L, n, { block });
  return L;
}
