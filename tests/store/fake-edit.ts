// Synthetic edits for ledger tests: rank-1 factors from a seed and an EditResult around them (what a
// real edit records, without running the model).
import type { EditResult, LayerDelta } from '../../src-main/engine/edit/types';

export function fakeDelta(layer: number, seed: number, d = 6, dff = 10): LayerDelta {
  const Ut = new Float32Array(d).map((_, i) => Math.sin(seed * 7 + i));
  const Vt = new Float32Array(dff).map((_, i) => Math.cos(seed * 3 + i));
  return { layer, tensor: `h.${layer}.mlp.c_proj.weight`, rank: 1, Ut, Vt };
}

export function fakeEditResult(caseId: string, deltas: LayerDelta[]): EditResult {
  return {
    method: 'rome',
    requests: [{ caseId, prompt: '{} is in', subject: 'S', targetNew: 'T', rephrase: [], locality: [] }],
    layers: deltas.map((d) => d.layer),
    deltas,
    metrics: [{ caseId, reliability: 1, generalization: 1, locality: 1 }],
    preMetrics: [{ caseId, reliability: 0, generalization: 0, locality: 1 }],
    norms: deltas.map((d) => ({
      layer: d.layer,
      tensor: d.tensor,
      l1: 1,
      l1Base: 1,
      l1GrowthPct: 0,
      fro: 1,
      maxAbs: 1,
      relChange: 0,
      deltaFro: 0,
      deltaL1: 0,
      factorNormU: 1,
      factorNormV: 1,
    })),
    timings: {},
    details: {},
    statsKeys: {},
  } as unknown as EditResult;
}
