import { eacErrorClass } from '../errors';

/**
 * Error type for everything the checkpoint loader refuses. `code` is a stable machine-readable
 * tag (see CheckpointErrorCode); `message` is written for a person and names the file and,
 * where there is one, the tensor.
 */
export type CheckpointErrorCode =
  | 'no_config'
  | 'bad_config'
  | 'unsupported_arch'
  | 'unsupported_config'
  | 'pickle_only'
  | 'no_weights'
  | 'bad_index'
  | 'not_regular_file'
  | 'header_too_short'
  | 'header_too_large'
  | 'header_json'
  | 'bad_dtype'
  | 'bad_shape'
  | 'offset_out_of_range'
  | 'overlap'
  | 'length_mismatch'
  | 'missing_shard'
  | 'missing_tensor'
  | 'duplicate_tensor'
  | 'shape_mismatch'
  | 'shard_mismatch'
  | 'symlink_outside'
  | 'file_truncated'
  | 'io_error'
  // untrusted-input checks shared by every file the engine reads (see engine/fs-safe.ts)
  | 'not_found'
  | 'file_too_large'
  | 'bad_json'
  | 'path_not_allowed'
  // tokenizer.json
  | 'bad_tokenizer'
  | 'bad_token_id'
  | 'tokenizer_timeout'
  | 'tokenizer_unsafe'
  | 'input_too_long'
  // weights holding NaN / Inf, or an edit computed from them
  | 'non_finite'
  // memory model (README "How memory is used"): a session would hold a private copy of a weight,
  // or an operation cannot fit the memory budget
  | 'weight_copy'
  | 'memory_budget'
  // GPU memory model (README "How memory is used on a GPU"): the weights + working set exceed the
  // device, or a weight cannot be represented in the device dtype (bf16 beyond f16's range)
  | 'device_memory'
  | 'device_dtype';

export class CheckpointError extends eacErrorClass<CheckpointErrorCode>('CheckpointError') {}
