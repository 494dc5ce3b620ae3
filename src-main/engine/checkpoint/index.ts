export { CheckpointError, type CheckpointErrorCode } from './errors';
export {
  type StDType,
  DTYPE_BYTES,
  FLOAT_DTYPES,
  isStDType,
  bf16ToF32,
  bf16ToF16InPlace,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  bytesToF32,
} from './dtype';
export { type ModelConfig, parseConfig, expectedTensorNames, expectedTensorShapes } from './config';
export {
  type SafetensorsHeader,
  type SafetensorsTensor,
  type SafetensorsWriteTensor,
  MAX_HEADER_BYTES,
  readSafetensorsHeader,
  encodeSafetensors,
  writeSafetensors,
} from './safetensors';
export {
  type TensorEntry,
  type Checkpoint,
  SINGLE_WEIGHTS,
  WEIGHTS_INDEX,
  canonicalTensorName,
  loadCheckpoint,
  tensorEntry,
  readTensorBytes,
  readTensorF32,
} from './checkpoint';
export {
  hashCheckpointFiles,
  checkpointHashes,
  checkpointFileNames,
  clearHashMemo,
  hashing,
  sampleOffsets,
  sidecarPath,
  SAMPLE_WINDOW,
  type FileRecord,
  type FileCheck,
  type IntegrityOptions,
  type IntegrityResult,
} from './hash';
