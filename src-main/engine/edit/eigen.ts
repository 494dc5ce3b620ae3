import { EacError, internalError } from '../errors';
// Symmetric eigendecomposition in float64: Householder reduction to tridiagonal form, then the
// implicit QL iteration (the classic tred2 / tql2 pair of EISPACK, as in JAMA). AlphaEdit needs the
// eigenvectors of the key second moment C with small eigenvalues (its null-space projection P); the
// published code takes them from torch.linalg.svd(C), which for a symmetric positive semi-definite C
// is the same decomposition. Written here from the algorithm's description; O(n³), run once per
// statistics entry and cached (solve-cache.ts).

export interface SymmetricEigen {
  n: number;
  /** eigenvalues, ascending */
  values: Float64Array;
  /** eigenvectors as rows, row i belongs to values[i]: [n, n] row-major */
  vectors: Float64Array;
}

/**
 * Eigenvalues and orthonormal eigenvectors of the symmetric n × n matrix A (row-major; only read).
 * `onProgress` gets a fraction now and then (the reduction is about half of the work).
 */
export function symmetricEigen(A: Float64Array, n: number, onProgress?: (fraction: number) => void): SymmetricEigen {
  if (A.length !== n * n) throw internalError(`symmetricEigen: A has ${A.length} elements, expected ${n * n}`);
  // A is the key statistics C of a model (AlphaEdit's null space): NaN / Inf there came from the model's activations
  // on the statistics corpus (an imported .npz is checked when it is read), so it is the input, not a bug
  for (let i = 0; i < A.length; i++)
    if (!Number.isFinite(A[i]))
      throw new EacError(
        'non_finite',
        `the key statistics hold a non-finite value (${A[i]}) at row ${Math.floor(i / n)}, column ${i % n}: the model's MLP keys overflowed on the statistics corpus; check the weights (eac verify) or compute the statistics on another corpus (--stats)`,
        { detail: { row: Math.floor(i / n), column: i % n } },
      );
  const V = Float64Array.from(A);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { n, values: d, vectors: V };
  tred2(V, n, d, e, onProgress);
  // tred2 leaves the eigenvector basis in V's columns; QL rotates pairs of them, which is a pair of
  // contiguous rows once V is transposed
  transposeInPlace(V, n);
  tql2(V, n, d, e, onProgress);
  return sortAscending(V, n, d);
}

function transposeInPlace(V: Float64Array, n: number): void {
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const t = V[i * n + j];
      V[i * n + j] = V[j * n + i];
      V[j * n + i] = t;
    }
}

/** Householder tridiagonalisation: A = Q T Qᵀ; V becomes Q, d the diagonal of T, e its subdiagonal (e[i] couples i−1, i). */
function tred2(V: Float64Array, n: number, d: Float64Array, e: Float64Array, onProgress?: (f: number) => void): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    if (onProgress && i % 64 === 0) onProgress((0.4 * (n - i)) / n);
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  // accumulate the transformations
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/** Implicit QL on the tridiagonal (d, e); W holds the basis as rows and is rotated along. */
function tql2(W: Float64Array, n: number, d: Float64Array, e: Float64Array, onProgress?: (f: number) => void): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    if (onProgress && l % 64 === 0) onProgress(0.4 + (0.6 * l) / n);
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m === n) m = n - 1;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60 * n) throw internalError('symmetricEigen: the QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          // rotate basis vectors i and i+1 (rows of W)
          const a = i * n;
          const b = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const wb = W[b + k];
            const wa = W[a + k];
            W[b + k] = s * wa + c * wb;
            W[a + k] = c * wa - s * wb;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  onProgress?.(1);
}

function sortAscending(W: Float64Array, n: number, d: Float64Array): SymmetricEigen {
  const order = [...d.keys()].sort((a, b) => d[a] - d[b] || a - b);
  const values = Float64Array.from(order, (i) => d[i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => vectors.set(W.subarray(src * n, src * n + n), dst * n));
  return { n, values, vectors };
}

/**
 * Û of AlphaEdit (AlphaEdit_main / evaluate.py get_project: `U[:, S < nullspace_threshold]`): the
 * eigenvectors whose eigenvalue is below `threshold`, as rows [r, n]. P = ÛᵀÛ in this layout.
 */
export function nullspaceBasis(eig: SymmetricEigen, threshold: number): { rows: number; basis: Float64Array } {
  let r = 0;
  while (r < eig.n && eig.values[r] < threshold) r++;
  return { rows: r, basis: eig.vectors.slice(0, r * eig.n) };
}
