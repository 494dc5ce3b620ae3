// Float tolerances derived from the computation a test checks, never tuned to the CPU it first ran on.
//
// Why this file exists: onnxruntime's CPU kernels (MLAS) are picked at run time from the instruction set
// (SSE2, AVX, AVX2 + FMA, AVX-512), read straight from CPUID/XGETBV; no environment variable or session
// option of onnxruntime-node 1.30 narrows that choice on x86-64. The kernels split and order reductions
// differently (8 vs 16 lanes, other K blocking) and round a·b + c once (FMA) or twice, and exp / tanh /
// erf use different polynomial kernels. So a float32 result differs by CPU in its last bits, and two
// float32 routes to one value (live factors vs exported weights, batched vs single) differ by an amount no
// fixed constant captures: 1e-5 held here (AVX-512) and failed at 1.43e-5 on an AVX2-only EPYC (issue 21).
//
// The rules the tests follow:
//  1. An exactness claim is checked where it is exact: equal bits (a computation that is the same on every
//     CPU, e.g. adding an exact zero), or one rounding of a float64 value (`oneRounding`).
//  2. One reduction of n products has Higham's worst-case bound (Accuracy and Stability of Numerical
//     Algorithms, 2nd ed., §3.1): |fl(xᵀy) − xᵀy| ≤ γ_n·|x|ᵀ|y|, γ_n = n·u / (1 − n·u). It holds for every
//     order of summation, blocking and lane count, with or without FMA (FMA only removes roundings), so
//     it holds whatever kernel a CPU gets. Tests compute |x|ᵀ|y| from their data (`gamma`).
//  3. A whole forward pass chains hundreds of reductions through LayerNorm, softmax and GELU/SiLU; the
//     worst case compounds (n·u per reduction times each layer's condition) into a bound orders of
//     magnitude above any real error, useless as a test. There we use the probabilistic model of rounding
//     (Higham & Mary, "A new approach to probabilistic rounding error analysis", SIAM J. Sci. Comput. 41,
//     2019): rounding errors are independent, mean-zero and at most u relative, so a length-n sum is off by
//     about √n·u of its size, and independent errors along a chain add in quadrature: √(Σ nᵢ)·u for a chain
//     of reductions of lengths nᵢ (`forwardDepth`). Every rounding is charged at the magnitude of the
//     LARGEST compared value (`f32Bound`), which intermediate values (hidden states of size 1–3 against
//     logits of 10–20) never reach: that is the safety factor, not a tuned constant. Measured on the
//     fixtures (AVX-512 here): logits against the float64 reference use 7–14 % of this budget, the MLP
//     taps up to 24 %, two float32 routes 4–8 %; the AVX2 failure of issue 21 (1.43e-5 between two
//     float32 routes where the bound is now 1.8e-4) used 8 %.
//  4. Two float32 routes to the same exact value each lie within the bound of it, so they lie within twice
//     the bound of each other (`routes = 2`); against a float64 reference, `routes = 1`.
import type { ModelConfig } from '../src-main/engine/checkpoint/config';

/** Unit roundoff of binary32: |fl(x) − x| ≤ u·|x| under round-to-nearest (half the 2^-23 gap above 1). */
export const F32_U = 2 ** -24;
/** Unit roundoff of binary64. */
export const F64_U = 2 ** -53;
/** Unit roundoff of bfloat16 (8 significant bits), rounded to nearest even. */
export const BF16_U = 2 ** -8;

/** γ_n = n·u / (1 − n·u): the worst-case relative error factor of a length-n dot product, any order, any CPU. */
export function gamma(n: number, u = F32_U): number {
  if (n * u >= 1) throw new Error(`gamma(${n}): n·u ≥ 1, no bound`);
  return (n * u) / (1 - n * u);
}

/** The largest |x|. */
export function maxAbs(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]));
  return m;
}

/** max |a − b| / max |b|: the difference measured against the reference `b`'s largest entry. */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / maxAbs(b);
}

/**
 * Roundings an elementwise stage adds per layer in the forward-depth count: residual adds, bias adds, the
 * attention scale and mask, softmax's exp and division, GELU's tanh polynomial (or SiLU's logistic and the
 * gate product), RoPE's multiply-adds. Each is one rounding of its result (the MLAS exp / tanh / logistic
 * kernels are within a few ulp), counted generously as 16 per layer.
 */
const ELEMENTWISE_PER_LAYER = 16;

type ForwardShape = Pick<ModelConfig, 'arch' | 'hidden' | 'ffn' | 'layers' | 'headDim'>;

/** Where a forward pass is compared: the logits, or the MLP key / MLP output tap of one layer. */
export type ForwardPoint = 'logits' | { layer: number; tap: 'key' | 'mlp_out' };

/**
 * √(Σ nᵢ) over the float32 reductions on the path from the token ids to `at` for a sequence of T tokens:
 * per layer the input norm (LayerNorm: mean and variance, 2d; RMSNorm: mean square, d), the q/k/v
 * projections (d), q·k (head_dim), the softmax sum and the weighted sum of values (T each), the output
 * projection (d), the MLP norm, the up (and gate) projection (d), the down projection (d_ff), and
 * ELEMENTWISE_PER_LAYER single roundings; then the final norm and the LM head (d).
 * `elementwiseUlps`: the accuracy of the elementwise functions in ulp (1 for the CPU EP); an error of k ulp
 * enters the quadrature sum as k² roundings.
 */
export function forwardDepth(cfg: ForwardShape, T: number, at: ForwardPoint = 'logits', elementwiseUlps = 1): number {
  const d = cfg.hidden;
  const norm = cfg.arch === 'gpt2' ? 2 * d : d;
  const elementwise = ELEMENTWISE_PER_LAYER * elementwiseUlps ** 2;
  const attention = norm + d + cfg.headDim + 2 * T + d;
  const key = norm + d + elementwise;
  const layer = attention + key + cfg.ffn;
  const n = at === 'logits' ? cfg.layers * layer + norm + d : at.layer * layer + attention + key + (at.tap === 'mlp_out' ? cfg.ffn : 0);
  return Math.sqrt(n);
}

/**
 * Bound on |a − b| for float32 results of magnitude ≤ maxMagnitude, each computed through a chain of the
 * given depth (`forwardDepth`, or √n for one reduction): routes · maxMagnitude · u · depth. routes = 1
 * against a float64 (or exact) reference, 2 between two float32 computations of the same value.
 */
export function f32Bound(maxMagnitude: number, depth: number, routes: 1 | 2 = 2): number {
  return routes * maxMagnitude * F32_U * depth;
}

/**
 * Bound on |stored − exact| when `stored` is `exact` (computed in float64) rounded once to a format of unit
 * roundoff u, after float64 work whose own error is at most f64Err: u·|exact| + (1 + u)·f64Err.
 */
export function oneRounding(exact: number, u: number, f64Err = 0): number {
  return u * Math.abs(exact) + (1 + u) * f64Err;
}

/**
 * κ₂(A) = λmax / λmin of a symmetric positive definite n × n matrix (row-major), given its Cholesky factor L
 * (lower triangle, row-major): power iteration on A for λmax and on A⁻¹ = L⁻ᵀL⁻¹ (two triangular solves) for
 * 1/λmin. Power iteration approaches both from below, so the estimate is scaled by 1.5 to stay above κ₂.
 */
export function spdCondition(A: Float64Array, L: Float64Array, n: number, iters = 60): number {
  const power = (apply: (x: Float64Array) => Float64Array): number => {
    let x: Float64Array = Float64Array.from({ length: n }, (_, i) => 1 + Math.sin(i + 1) / 2);
    let lambda = 0;
    for (let it = 0; it < iters; it++) {
      const norm = Math.hypot(...x);
      x = x.map((v) => v / norm);
      const y = apply(x);
      lambda = y.reduce((a, v, i) => a + v * x[i], 0);
      x = y;
    }
    return lambda;
  };
  const mulA = (x: Float64Array) => {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += A[i * n + j] * x[j];
      y[i] = s;
    }
    return y;
  };
  const solveA = (b: Float64Array) => {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = b[i];
      for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
      y[i] = s / L[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < n; k++) s -= L[k * n + i] * y[k];
      y[i] = s / L[i * n + i];
    }
    return y;
  };
  return 1.5 * power(mulA) * power(solveA);
}

/**
 * Bound on max |L₁ − L₂| / max |L| for two float64 Cholesky factors of the same SPD A computed in different
 * orders (the JS loops, onnxruntime's DGEMM panels: FMA3 or AVX-512 by CPU). Each computed factor is the
 * exact factor of A + ΔA with |ΔA| ≲ √n·u·|L||Lᵀ| (Higham Thm 10.3, probabilistic form as in rule 3), and a
 * perturbation of relative size ε moves the factor by at most κ₂(A)·ε relative (Sun's first-order
 * perturbation bound for the Cholesky factor), so two routes differ by at most 2·κ₂(A)·√n·u.
 */
export function choleskyBound(kappa: number, n: number): number {
  return 2 * kappa * Math.sqrt(n) * F64_U;
}
