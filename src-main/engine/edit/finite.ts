// The last check before an edit result leaves the editor: every factor, norm and metric finite.
// NaN / Inf weights in the checkpoint (or an optimisation that diverged) would otherwise reach the
// ledger as NULL norms and an edit nobody can reproduce; such an edit is refused instead, and the
// message says which quantity went non-finite and what that points to.
import { CheckpointError } from '../checkpoint/errors';
import type { LayerDelta, NormSnapshot, RequestMetrics } from './types';

function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** null when everything is finite; otherwise what is not, for a message. */
export function nonFiniteInEdit(deltas: LayerDelta[], norms: NormSnapshot[], metrics: RequestMetrics[]): string | null {
  for (const n of norms) {
    if (!Number.isFinite(n.l1Base) || (!Number.isFinite(n.fro) && Number.isFinite(n.deltaFro))) {
      return `a non-finite norm of the base weight ${n.tensor} (layer ${n.layer}): the checkpoint's weight holds NaN or Inf values`;
    }
  }
  for (const d of deltas) {
    const u = firstNonFinite(d.Ut);
    const v = firstNonFinite(d.Vt);
    if (u >= 0 || v >= 0) {
      return `non-finite factors for ${d.tensor} (layer ${d.layer}, ${u >= 0 ? `U element ${u}` : `V element ${v}`}): the optimisation diverged or the model's weights hold NaN or Inf values`;
    }
  }
  for (const n of norms) {
    for (const k of ['l1', 'l1Base', 'l1GrowthPct', 'fro', 'maxAbs', 'relChange', 'deltaFro', 'deltaL1', 'factorNormU', 'factorNormV'] as const) {
      if (!Number.isFinite(n[k])) return `a non-finite ${k} (${n[k]}) for ${n.tensor} (layer ${n.layer})${k === 'l1GrowthPct' && n.l1Base === 0 ? ': the base weight is all zeros' : ''}`;
    }
  }
  for (const m of metrics) {
    for (const k of ['reliability', 'generalization', 'locality'] as const) {
      const v = m[k];
      if (v !== null && !Number.isFinite(v)) return `a non-finite ${k} (${v}) for case ${m.caseId}: the model's outputs are not finite`;
    }
  }
  return null;
}

/** Throws CheckpointError('non_finite') when nonFiniteInEdit finds something. */
export function assertFiniteEdit(what: string, deltas: LayerDelta[], norms: NormSnapshot[], metrics: RequestMetrics[]): void {
  const bad = nonFiniteInEdit(deltas, norms, metrics);
  if (bad) throw new CheckpointError('non_finite', `${what} produced ${bad}; the edit is not applied and not recorded`);
}
