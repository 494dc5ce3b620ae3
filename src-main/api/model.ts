// What the engine says about an open model (workspace.open, the CLI's info) and what generation's top-k returns.
// Shared by the API contract and the engine protocol (jobs/protocol.ts re-exports them), so they sit on the
// api floor, below jobs. Renderer-safe: type-only imports.
import type { ModelConfig } from '../engine/checkpoint';
import type { DeviceName } from '../engine/devices';
import type { ArchName } from '../engine/architectures';

export interface TensorSummary {
  name: string;
  dtype: string;
  shape: number[];
  file: string;
}

export interface DeviceInfo {
  requested: DeviceName;
  used: DeviceName;
  /** why the requested device was not used, when it was not */
  fallbackReason?: string;
}

export interface ModelInfo {
  /** absolute folder */
  dir: string;
  arch: ArchName;
  /** HF `architectures[0]` / `model_type` as written in config.json */
  architectures: string[];
  modelType?: string;
  sizes: Pick<ModelConfig, 'vocabSize' | 'hidden' | 'layers' | 'heads' | 'kvHeads' | 'headDim' | 'ffn' | 'maxPositions'>;
  normEps: number;
  ropeTheta?: number;
  activation: string;
  tiedHead: boolean;
  bosTokenId?: number;
  eosTokenId?: number;
  /** number of weights (tensor elements) the forward pass reads; a tied head counts once */
  parameters: number;
  /** storage dtype -> number of tensors */
  dtypes: Record<string, number>;
  tensorCount: number;
  tensors: TensorSummary[];
  files: { name: string; bytes: number }[];
  /** filled when the model was opened by the engine (sessions created) */
  device?: DeviceInfo;
}

export interface TopKEntry {
  id: number;
  token: string;
  logit: number;
  prob: number;
}
