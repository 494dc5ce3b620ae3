// Dense float64 linear algebra for the editing math (row-major Float64Array everywhere).
//
// Scale note: Cholesky is O(n³/3) flops. In plain JS that is ≈1 s for n = 768 (the fixtures) and
// ≈30–60 s for GPT-2 medium/large's d_ff = 4096–5120; above 1024 the factorisation runs blocked with
// its O(n³) part on onnxruntime (cholesky-ort.ts), in place, and this file stays the reference
// implementation it must match.

import { eacErrorClass, internalError } from '../errors';

/** Thrown by `cholesky` when a pivot is not positive (or not finite). */
export class NotPositiveDefiniteError extends eacErrorClass<'not-positive-definite'>('NotPositiveDefiniteError') {
  /**
   * The error for pivot `pivot` (the smallest met; every earlier one was positive) at row/column `index` of an n × n
   * matrix; `smallestPositive` is the smallest positive pivot before it (Infinity when it failed at index 0).
   */
  static at(index: number, pivot: number, n: number, smallestPositive: number): NotPositiveDefiniteError {
    return new NotPositiveDefiniteError(
      'not-positive-definite',
      `matrix is not positive definite: smallest pivot ${pivot} at index ${index} of ${n}` +
        (Number.isFinite(smallestPositive) ? ` (smallest positive pivot before it: ${smallestPositive.toExponential(3)})` : '') +
        `; add a regulariser (A + λI) or use more statistics samples`,
      // Infinity and NaN do not survive JSON: the wire carries null for them, the getters give them back
      { detail: { index, pivot, n, smallestPositive } },
    );
  }
  /** row/column of the failing pivot */
  get index(): number {
    return this.detail!.index as number;
  }
  /** its value: the smallest pivot met */
  get pivot(): number {
    return (this.detail!.pivot as number | null) ?? NaN;
  }
  get n(): number {
    return this.detail!.n as number;
  }
  /** smallest positive pivot before the failure (Infinity when it failed at index 0) */
  get smallestPositive(): number {
    return (this.detail!.smallestPositive as number | null) ?? Infinity;
  }
}

function checkSize(name: string, a: ArrayLike<number>, expected: number): void {
  if (a.length !== expected) throw internalError(`${name} has ${a.length} elements, expected ${expected}`);
}

/**
 * Lower-triangular L with A = L Lᵀ (only the lower triangle of A is read; the upper triangle of L
 * is zero), as a new array. See `choleskyInPlace` for the factorisation itself.
 */
export function cholesky(A: Float64Array, n: number): Float64Array {
  checkSize('A', A, n * n);
  const L = Float64Array.from(A);
  choleskyInPlace(L, n);
  return L;
}

/**
 * Overwrites A (n × n, row-major; only the lower triangle is read) with its lower Cholesky factor
 * L, A = L Lᵀ, and zeroes the upper triangle: no buffer besides A. Row-oriented Cholesky–Crout:
 * row i of L only needs rows j < i of L and the entries of row i left of j, which are already L,
 * so the factor can replace A as it goes; every inner loop is a dot product of two contiguous rows.
 * Throws NotPositiveDefiniteError (A is then partly overwritten).
 */
export function choleskyInPlace(A: Float64Array, n: number): void {
  checkSize('A', A, n * n);
  choleskyDiagonalBlock(A, n, 0, n);
  for (let i = 0; i < n; i++) A.fill(0, i * n + i + 1, i * n + n);
}

/**
 * Factorises the diagonal block rows/columns [k0, k0+kb) of the row-major n × n matrix A in place
 * (lower triangle), assuming every update from columns < k0 has already been applied to it.
 * Pivot errors name the global index.
 */
export function choleskyDiagonalBlock(A: Float64Array, n: number, k0: number, kb: number): void {
  let smallestPositive = Infinity;
  for (let i = k0; i < k0 + kb; i++) {
    const ri = i * n;
    for (let j = k0; j < i; j++) {
      const rj = j * n;
      let s = A[ri + j];
      for (let k = k0; k < j; k++) s -= A[ri + k] * A[rj + k];
      A[ri + j] = s / A[rj + j];
    }
    let d = A[ri + i];
    for (let k = k0; k < i; k++) d -= A[ri + k] * A[ri + k];
    if (!(d > 0) || !Number.isFinite(d)) throw NotPositiveDefiniteError.at(i, d, n, smallestPositive);
    if (d < smallestPositive) smallestPositive = d;
    A[ri + i] = Math.sqrt(d);
  }
}

/** X = A⁻¹B given L = cholesky(A); B row-major [n, cols]. B is not modified. */
export function choleskySolve(L: Float64Array, n: number, B: Float64Array, cols: number): Float64Array {
  checkSize('L', L, n * n);
  checkSize('B', B, n * cols);
  const Y = Float64Array.from(B);
  // forward: L Y = B, row by row (axpy over contiguous rows of Y)
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const yi = i * cols;
    for (let j = 0; j < i; j++) {
      const l = L[ri + j];
      if (l === 0) continue;
      const yj = j * cols;
      for (let c = 0; c < cols; c++) Y[yi + c] -= l * Y[yj + c];
    }
    const inv = 1 / L[ri + i];
    for (let c = 0; c < cols; c++) Y[yi + c] *= inv;
  }
  // backward: Lᵀ X = Y; once row i of X is final, subtract its contribution from rows j < i
  // (reads row i of L, contiguous)
  for (let i = n - 1; i >= 0; i--) {
    const ri = i * n;
    const xi = i * cols;
    const inv = 1 / L[ri + i];
    for (let c = 0; c < cols; c++) Y[xi + c] *= inv;
    for (let j = 0; j < i; j++) {
      const l = L[ri + j];
      if (l === 0) continue;
      const xj = j * cols;
      for (let c = 0; c < cols; c++) Y[xj + c] -= l * Y[xi + c];
    }
  }
  return Y;
}

/** C = A B with A [m, k], B [k, n] (i-k-j order: the inner loop runs along rows of B and C). */
export function matmul(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  checkSize('A', A, m * k);
  checkSize('B', B, k * n);
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    const ai = i * k;
    for (let p = 0; p < k; p++) {
      const a = A[ai + p];
      if (a === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) C[ci + j] += a * B[bp + j];
    }
  }
  return C;
}

/** Aᵀ for A [rows, cols] (blocked so both sides stay in cache). */
export function transpose(A: Float64Array, rows: number, cols: number): Float64Array {
  checkSize('A', A, rows * cols);
  const T = new Float64Array(rows * cols);
  const BS = 32;
  for (let i0 = 0; i0 < rows; i0 += BS) {
    const i1 = Math.min(rows, i0 + BS);
    for (let j0 = 0; j0 < cols; j0 += BS) {
      const j1 = Math.min(cols, j0 + BS);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) T[j * rows + i] = A[i * cols + j];
    }
  }
  return T;
}

/** A + s·I as a new array (A is [n, n]). */
export function addScaledIdentity(A: Float64Array, n: number, s: number): Float64Array {
  checkSize('A', A, n * n);
  const out = Float64Array.from(A);
  for (let i = 0; i < n; i++) out[i * n + i] += s;
  return out;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw internalError(`dot of lengths ${a.length} and ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Euclidean norm (Frobenius for a flattened matrix), scaled to avoid overflow. */
export function norm(a: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
  if (scale === 0 || !Number.isFinite(scale)) return scale;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] / scale;
    s += x * x;
  }
  return scale * Math.sqrt(s);
}
