// k*, the keys (ROME rome/compute_u.py `compute_u` — `cur_repr` averaged over the context
// templates — and MEMIT memit/compute_ks.py `compute_ks`): the MLP key (or the residual after the
// block) at the subject's last token, averaged over the context templates.
import type { LoadedModel } from '../runtime/model';
import type { EditProfile } from './profile';
import type { EditPromptSet, PromptRow } from './prompts';

/** k* of ROME: the plain mean of the keys over the context templates. */
export function mean(rows: Float64Array[]): Float64Array {
  const out = new Float64Array(rows[0].length);
  for (const r of rows) for (let i = 0; i < out.length; i++) out[i] += r[i] / rows.length;
  return out;
}

/** Σ wᵢ rowsᵢ (MEMIT compute_ks: the mean of each context type's mean, expressed as row weights) */
function weightedMean(rows: Float64Array[], w: number[]): Float64Array {
  const out = new Float64Array(rows[0].length);
  rows.forEach((r, j) => {
    for (let i = 0; i < out.length; i++) out[i] += w[j] * r[i];
  });
  return out;
}

/**
 * MEMIT's K at `layer`: per request, its keys at the subject's last token averaged over the context
 * templates (memit/compute_ks.py `compute_ks`), by context type ('context-type') or plainly.
 */
export async function memitKeys(model: LoadedModel, layer: number, sets: EditPromptSet[], weighting: EditProfile['memit']['keyWeighting'], keyWeights: number[]): Promise<Float64Array[]> {
  const K: Float64Array[] = [];
  for (const s of sets) {
    const rows = await tapAtSubject(model, layer, s.rewrite, 'key');
    K.push(weighting === 'context-type' ? weightedMean(rows, keyWeights) : mean(rows));
  }
  return K;
}

/** A tap (MLP key or residual after the block) at the subject's last token of each row, live model. */
export async function tapAtSubject(model: LoadedModel, layer: number, rows: PromptRow[], tap: 'key' | 'resid'): Promise<Float64Array[]> {
  const { batch, out } = await model.run(
    rows.map((r) => r.ids),
    { logits: 'none', ...(tap === 'key' ? { tapKeys: [layer] } : { tapResid: [layer] }) },
  );
  const width = tap === 'key' ? model.cfg.ffn : model.cfg.hidden;
  const data = out[`${tap}_${layer}`].data as Float32Array;
  return rows.map((r, b) => {
    const at = b * batch.T + batch.T - r.ids.length + r.subjectLast;
    return Float64Array.from(data.subarray(at * width, at * width + width));
  });
}
