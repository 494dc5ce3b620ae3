// What an edit produces: low-rank factors per layer plus the measurements the ledger records.
import type { EditRequest } from '../facts/types';
import type { ProgressCount } from '../progress';

export type EditMethod = 'rome' | 'memit' | 'eac-rome' | 'eac-memit' | 'alphaedit' | 'eac-alphaedit' | 'ft' | 'ft-en';
export const EDIT_METHODS: readonly EditMethod[] = ['rome', 'memit', 'eac-rome', 'eac-memit', 'alphaedit', 'eac-alphaedit', 'ft', 'ft-en'];

/** ΔW of one layer's MLP output projection = Σ_r Ut[r]ᵀ ⊗ Vt[r] (W maps d_ff → d). */
export interface LayerDelta {
  layer: number;
  /** checkpoint tensor name of the edited weight */
  tensor: string;
  rank: number;
  /** [rank, d] row-major */
  Ut: Float32Array;
  /** [rank, d_ff] row-major */
  Vt: Float32Array;
}

/** Norms of one edited matrix after an edit (live W = W0 + all applied deltas). */
export interface NormSnapshot {
  layer: number;
  tensor: string;
  /** Σ|W| of the live matrix */
  l1: number;
  /** Σ|W0| of the base matrix */
  l1Base: number;
  /** (l1 - l1Base) / l1Base, in % — the paper's drift measure */
  l1GrowthPct: number;
  fro: number;
  maxAbs: number;
  /** ‖W − W0‖_F / ‖W0‖_F over all applied edits */
  relChange: number;
  /** ‖ΔW_this‖_F of this edit alone */
  deltaFro: number;
  /** Σ|ΔW_this| of this edit alone */
  deltaL1: number;
  factorNormU: number;
  factorNormV: number;
}

export interface RequestMetrics {
  caseId: string;
  reliability: number;
  generalization: number | null;
  locality: number | null;
}

export type EditPhase = 'statistics' | 'keys' | 'optimise' | 'anchors' | 'retrain' | 'update' | 'metrics' | 'health';

export interface EditProgress {
  phase: EditPhase;
  /** 0..1 within the phase */
  fraction: number;
  message?: string;
  /** how far the phase is in its own unit (v* steps, layers updated, ...), when it counts */
  count?: ProgressCount;
}

export interface EditResult {
  method: EditMethod;
  requests: EditRequest[];
  layers: number[];
  deltas: LayerDelta[];
  metrics: RequestMetrics[];
  /** metrics before the edit (for the report) */
  preMetrics: RequestMetrics[];
  norms: NormSnapshot[];
  /** milliseconds per phase */
  timings: Partial<Record<EditPhase, number>>;
  /** v* optimisation trace: loss per step, anchors kept etc. */
  details: Record<string, unknown>;
  /** identifiers of the key statistics used, per layer */
  statsKeys: Record<number, string>;
  /**
   * AlphaEdit / EAC-AlphaEdit: the keys this edit adds to the preserved second moment K_p K_pᵀ, per
   * layer (model state the ledger stores with the edit, so revert / remove / replay rebuild it)
   */
  preservedKeys?: { layer: number; n: number; keys: Float64Array }[];
}
