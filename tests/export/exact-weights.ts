// The exactness claim of an export, checked where it is exact: every edited tensor in the exported
// safetensors is W0 + Σ Uᵢ Vᵢᵀ (the ledger's bit-exact factors) rounded ONCE to the tensor's dtype.
// The reference is recomputed here in float64 with its own loop order (element by element, factors in
// ledger order), independent of the export's denseDelta; no float32 forward pass is involved, so the
// check is the same on every CPU.
import { loadCheckpoint, readTensorF32 } from '../../src-main/engine/checkpoint';
import type { StoredFactors } from '../../src-main/store';
import { BF16_U, F32_U, F64_U, oneRounding } from '../tolerance';

export interface ExactWeightsReport {
  /** edited tensor names checked, sorted */
  tensors: string[];
  /** worst |stored − exact| / bound over every element of every edited tensor: ≤ 1 is correct */
  worstRatio: number;
  /** elements over their bound */
  over: number;
  /** largest |exact − W0|: how far the edits moved the weights (a check that the deltas are not all zero) */
  maxDelta: number;
}

/**
 * Compares the edited tensors of `exportDir` with base + Σ Utᵀ Vt of `factors` (all live factors, any order:
 * the float64 sum of a few rank-one terms is exact to f64Err below). Bound per element: one rounding of the
 * exact value to the stored dtype (F32: u = 2^-24; BF16: the export rounds float64 → float32 → bf16, two
 * roundings, u = 2^-8 + 2^-24), plus the float64 error of both float64 sums, (rank + 1)·2^-53·(|W0| + Σ|u v|)
 * each (γ bound for a sum of rank + 1 terms).
 */
export function checkExportedWeights(exportDir: string, baseDir: string, factors: StoredFactors[]): ExactWeightsReport {
  const out = loadCheckpoint(exportDir);
  const base = loadCheckpoint(baseDir);
  const byTensor = new Map<string, StoredFactors[]>();
  for (const f of factors) byTensor.set(f.tensor, [...(byTensor.get(f.tensor) ?? []), f]);
  let worstRatio = 0;
  let over = 0;
  let maxDelta = 0;
  for (const [name, fs] of byTensor) {
    const entry = out.tensors.get(name);
    if (!entry) throw new Error(`export has no tensor ${name}`);
    const u = entry.dtype === 'F32' ? F32_U : entry.dtype === 'BF16' ? BF16_U + F32_U : NaN;
    if (Number.isNaN(u)) throw new Error(`${name}: no rounding bound for dtype ${entry.dtype}`);
    const stored = readTensorF32(out, name);
    const w0 = readTensorF32(base, name);
    const { dOut: d, dIn: ffn } = fs[0];
    const [rows, cols] = entry.shape;
    // GPT-2 Conv1D c_proj stores [d_ff, d] (element (j, i) is ΔW[i, j]); LLaMA down_proj stores [d, d_ff]
    const transposed = rows === ffn && cols === d && !(rows === d && cols === ffn);
    const rank = fs.reduce((a, f) => a + f.rank, 0);
    const f64 = (rank + 1) * F64_U;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < ffn; j++) {
        const k = transposed ? j * d + i : i * ffn + j;
        let delta = 0;
        let absTerms = 0;
        for (const f of fs)
          for (let r = 0; r < f.rank; r++) {
            const t = f.Ut[r * d + i] * f.Vt[r * ffn + j];
            delta += t;
            absTerms += Math.abs(t);
          }
        const exact = w0[k] + delta;
        maxDelta = Math.max(maxDelta, Math.abs(delta));
        const bound = oneRounding(exact, u, 2 * f64 * (Math.abs(w0[k]) + absTerms));
        const err = Math.abs(stored[k] - exact);
        if (err > bound) over++;
        // an exact zero bound (W0 = 0 and no delta) needs an exact zero error
        worstRatio = Math.max(worstRatio, bound > 0 ? err / bound : err > 0 ? Infinity : 0);
      }
  }
  return { tensors: [...byTensor.keys()].sort(), worstRatio, over, maxDelta };
}
