import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError, type CheckpointErrorCode } from './errors';
import { parseConfig, expectedTensorShapes, type ModelConfig } from './config';
import { bytesToF32, DTYPE_BYTES, FLOAT_DTYPES, type StDType } from './dtype';
import { readSafetensorsHeader, type SafetensorsHeader } from './safetensors';
import { FILE_LIMITS, openRegularFile, parseJson, readTextFile } from '../fs-safe';
import { ARCHITECTURES, canonicalTensorName } from '../architectures';

export { canonicalTensorName };

export interface TensorEntry {
  name: string;
  dtype: StDType;
  shape: number[];
  /** basename relative to the checkpoint dir */
  file: string;
  /** absolute byte offset of the data in the file */
  offset: number;
  byteLength: number;
}

export interface Checkpoint {
  /** absolute path of the folder */
  dir: string;
  config: ModelConfig;
  /** weight file basenames */
  files: string[];
  /** keys are canonical names (GPT-2 without the `transformer.` prefix) */
  tensors: Map<string, TensorEntry>;
}

export const SINGLE_WEIGHTS = 'model.safetensors';
export const WEIGHTS_INDEX = 'model.safetensors.index.json';

const PICKLE_RE = /^(pytorch_model.*\.bin|.*\.pt|.*\.pth|.*\.ckpt|pytorch_model\.bin\.index\.json)$/i;

function pyQuote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function pickleMessage(dir: string, found: string[]): string {
  const q = pyQuote(dir);
  return (
    `${dir} has only PyTorch pickle weights (${found.join(', ')}) and no model.safetensors. ` +
    `Pickle files can execute arbitrary code when loaded and cannot be read safely without Python, so they are not opened. ` +
    `Convert the folder to safetensors once, with Python and transformers installed:\n` +
    `  python -c "from transformers import AutoModelForCausalLM as M; M.from_pretrained(${q}).save_pretrained(${q}, safe_serialization=True)"\n` +
    `then load the folder again.`
  );
}

/**
 * A weight file must be a regular file in the folder. A symlink is followed only when its real
 * path stays inside the folder (onnxruntime external data is resolved relative to the folder and
 * will not follow links out of it).
 */
function checkWeightFile(dir: string, realDir: string, base: string, missingCode: CheckpointErrorCode, missingMsg: string): void {
  const p = path.join(dir, base);
  let lst: fs.Stats;
  try {
    lst = fs.lstatSync(p);
  } catch {
    throw new CheckpointError(missingCode, missingMsg);
  }
  if (lst.isSymbolicLink()) {
    let real: string;
    try {
      real = fs.realpathSync(p);
    } catch {
      throw new CheckpointError(missingCode, `${missingMsg} (${p} is a dangling symlink)`);
    }
    const rel = path.relative(realDir, real);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
      throw new CheckpointError(
        'symlink_outside',
        `${p} is a symlink to ${real}, outside the model folder ${realDir}; onnxruntime external data cannot follow it. ` +
          `Copy the real files into the folder (e.g. \`cp -L\`, or download with \`--local-dir\` instead of the cache).`,
      );
    }
    lst = fs.statSync(p);
  }
  if (!lst.isFile()) {
    throw new CheckpointError('not_regular_file', `${p} is not a regular file`);
  }
}

interface IndexFile {
  weightMap: Map<string, string>;
  shards: string[];
}

function readIndex(indexPath: string): IndexFile {
  const raw = parseJson(readTextFile(indexPath, FILE_LIMITS.index, 'the weights index'), indexPath, 'bad_index');
  const wm = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>).weight_map : undefined;
  if (!wm || typeof wm !== 'object' || Array.isArray(wm)) {
    throw new CheckpointError('bad_index', `${indexPath}: missing "weight_map" object`);
  }
  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  for (const [tensor, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard.length === 0) {
      throw new CheckpointError('bad_index', `${indexPath}: weight_map entry for tensor "${tensor}" must be a file name, got ${JSON.stringify(shard)}`);
    }
    if (shard.includes('/') || shard.includes('\\') || shard === '.' || shard === '..' || path.isAbsolute(shard)) {
      throw new CheckpointError(
        'bad_index',
        `${indexPath}: weight_map entry for tensor "${tensor}" names "${shard}", which is not a plain file name in the folder`,
      );
    }
    weightMap.set(tensor, shard);
    if (!shards.includes(shard)) shards.push(shard);
  }
  if (shards.length === 0) throw new CheckpointError('bad_index', `${indexPath}: weight_map is empty`);
  return { weightMap, shards };
}

function loadConfigFile(dir: string): ModelConfig {
  const cfgPath = path.join(dir, 'config.json');
  let text: string;
  try {
    // a regular file of bounded size: a FIFO or device named config.json is refused, never read
    text = readTextFile(cfgPath, FILE_LIMITS.config, 'config.json');
  } catch (e) {
    if (e instanceof CheckpointError && e.code !== 'not_found' && e.code !== 'io_error') throw e;
    const exists = fs.existsSync(dir);
    throw new CheckpointError(
      'no_config',
      exists
        ? `${dir} has no readable config.json; a Hugging Face model folder needs config.json next to the weights`
        : `${dir} does not exist (no config.json)`,
    );
  }
  const raw = parseJson(text, cfgPath, 'bad_config');
  try {
    return parseConfig(raw);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(e.code, `${cfgPath}: ${e.message}`);
    throw e;
  }
}

function fmtShape(s: number[]): string {
  return `[${s.join(', ')}]`;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Bounds config.json by the tensors actually in the weight files, so that a config claiming
 * n_layer 1e9 or a vocabulary of 1e12 fails at once with the field named, instead of sizing
 * per-layer tables (or allocations) from it. Runs in O(#tensors). Only fields some tensor pins down
 * are checked here; the full shape check after it names every tensor that disagrees.
 */
function boundConfigByTensors(cfg: ModelConfig, tensors: Map<string, TensorEntry>, cfgPath: string): void {
  const arch = ARCHITECTURES[cfg.arch];
  const fail = (field: string, msg: string): never => {
    throw new CheckpointError('bad_config', `${cfgPath}: ${field} ${msg}`);
  };
  const layers = new Set<number>();
  for (const name of tensors.keys()) {
    const m = arch.layerOf.exec(name);
    if (m) layers.add(Number(m[1]));
  }
  if (cfg.layers > layers.size) {
    fail(
      arch.keys.layers,
      `is ${cfg.layers}, but the weight files hold tensors for ${layers.size} layer${layers.size === 1 ? '' : 's'}`,
    );
  }
  // fewer layers than the weights hold: the forward pass would silently skip the rest, a different model
  if (cfg.layers < layers.size) {
    fail(
      arch.keys.layers,
      `is ${cfg.layers}, but the weight files hold tensors for ${layers.size} layers; a config that leaves layers out ` +
        `runs a different model: set it to ${layers.size} (or use the config.json that came with these weights)`,
    );
  }
  const dim = (name: string, axis: number): number | undefined => {
    const t = tensors.get(name);
    return t && t.shape.length === 2 ? t.shape[axis] : undefined;
  };
  const pin = (field: string, value: number, tensor: string, axis: number, what: string) => {
    const have = dim(tensor, axis);
    if (have !== undefined && have !== value) fail(field, `is ${value}, but ${tensor} has ${have} ${what}`);
  };
  // the key config.json actually used for a size (GPT-2's n_ctx stands in for an absent n_positions)
  const keyOf = (field: keyof typeof arch.keys): string => {
    const key = arch.keys[field]!;
    const alias = field === 'maxPositions' ? arch.keys.maxPositionsAlias : undefined;
    return alias && cfg.raw[key] === undefined && cfg.raw[alias] !== undefined ? alias : key;
  };
  const embed = arch.tensors.embed;
  pin(keyOf('vocabSize'), cfg.vocabSize, embed, 0, 'rows (one per token)');
  pin(keyOf('hidden'), cfg.hidden, embed, 1, 'columns');
  for (const p of arch.pins) pin(keyOf(p.field), cfg[p.field], p.tensor, p.axis, p.what);
  if (arch.attnRows) {
    // query and key/value widths are products of two fields: the message names both factors
    const { q: qName, kv: kvName } = arch.attnRows;
    const q = dim(qName, 0);
    if (q !== undefined && q !== cfg.heads * cfg.headDim)
      fail(keyOf('heads'), `× head dimension is ${cfg.heads} × ${cfg.headDim} = ${cfg.heads * cfg.headDim}, but ${qName} has ${q} rows`);
    const kv = dim(kvName, 0);
    if (kv !== undefined && kv !== cfg.kvHeads * cfg.headDim)
      fail(keyOf('kvHeads'), `× head dimension is ${cfg.kvHeads} × ${cfg.headDim} = ${cfg.kvHeads * cfg.headDim}, but ${kvName} has ${kv} rows`);
  }
}

/**
 * Loads a Hugging Face model folder (config.json + model.safetensors, or
 * model.safetensors.index.json + shards). Reads and validates only headers; tensor data is read
 * later with readTensorF32 / readTensorBytes.
 */
export function loadCheckpoint(dir: string): Checkpoint {
  const absDir = path.resolve(dir);
  const config = loadConfigFile(absDir);
  const realDir = fs.realpathSync(absDir);
  const listing = fs.readdirSync(absDir);

  let files: string[];
  let index: IndexFile | null = null;
  const indexPath = path.join(absDir, WEIGHTS_INDEX);
  if (listing.includes(SINGLE_WEIGHTS)) {
    files = [SINGLE_WEIGHTS];
    checkWeightFile(absDir, realDir, SINGLE_WEIGHTS, 'no_weights', `${path.join(absDir, SINGLE_WEIGHTS)} is missing`);
  } else if (listing.includes(WEIGHTS_INDEX)) {
    index = readIndex(indexPath);
    files = index.shards;
    const perShard = new Map<string, number>();
    for (const s of index.weightMap.values()) perShard.set(s, (perShard.get(s) ?? 0) + 1);
    for (const shard of files) {
      const n = perShard.get(shard) ?? 0;
      checkWeightFile(
        absDir,
        realDir,
        shard,
        'missing_shard',
        `${path.join(absDir, shard)} is missing: ${indexPath} says it holds ${n} tensor${n === 1 ? '' : 's'}`,
      );
    }
  } else {
    const pickles = listing.filter((f) => PICKLE_RE.test(f)).sort();
    if (pickles.length > 0) throw new CheckpointError('pickle_only', pickleMessage(absDir, pickles));
    const otherSt = listing.filter((f) => f.endsWith('.safetensors')).sort();
    throw new CheckpointError(
      'no_weights',
      `${absDir} has no ${SINGLE_WEIGHTS} and no ${WEIGHTS_INDEX}` +
        (otherSt.length ? ` (found ${otherSt.join(', ')}; rename a single full checkpoint to ${SINGLE_WEIGHTS})` : ''),
    );
  }

  // headers
  const headers: SafetensorsHeader[] = files.map((f) => readSafetensorsHeader(path.join(absDir, f)));

  // collect canonical names; remember where every tensor (buffers included) lives
  const tensors = new Map<string, TensorEntry>();
  const location = new Map<string, string>();
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    for (const t of headers[i].tensors) {
      const canon = canonicalTensorName(config.arch, t.name);
      const prev = location.get(canon);
      if (prev !== undefined) {
        throw new CheckpointError(
          'duplicate_tensor',
          prev === file
            ? `${path.join(absDir, file)}: tensor "${t.name}" appears twice (with and without the "${ARCHITECTURES[config.arch].tensorPrefix}" prefix)`
            : `tensor "${canon}" is in both ${path.join(absDir, prev)} and ${path.join(absDir, file)}`,
        );
      }
      location.set(canon, file);
      if (ARCHITECTURES[config.arch].ignoredBuffer.test(canon)) continue;
      tensors.set(canon, { name: canon, dtype: t.dtype, shape: t.shape, file, offset: t.offset, byteLength: t.byteLength });
    }
  }

  // index consistency: every tensor must be in the shard the index names
  if (index) {
    for (const [name, shard] of index.weightMap) {
      const canon = canonicalTensorName(config.arch, name);
      const actual = location.get(canon);
      if (actual === shard) continue;
      if (actual === undefined) {
        throw new CheckpointError(
          'missing_tensor',
          `${indexPath} says tensor "${name}" is in ${shard}, but no shard contains it (${path.join(absDir, shard)} does not)`,
        );
      }
      throw new CheckpointError(
        'shard_mismatch',
        `${indexPath} says tensor "${name}" is in ${shard}, but ${path.join(absDir, shard)} does not contain it (it is in ${actual})`,
      );
    }
  }

  // config.json's sizes against the tensors present, before anything is sized from config.json
  boundConfigByTensors(config, tensors, path.join(absDir, 'config.json'));

  const ck: Checkpoint = { dir: absDir, config: { ...config }, files, tensors };

  // a head tied by the weights (GPT-2): tied unless an lm_head.weight that differs from the embedding is present
  const { tie, tensors: names } = ARCHITECTURES[config.arch];
  if (tie.from === 'weights') {
    const head = tensors.get(names.head);
    const embedding = tensors.get(names.embed);
    if (head) {
      const same =
        !!embedding &&
        head.dtype === embedding.dtype &&
        sameShape(head.shape, embedding.shape) &&
        readTensorBytes(ck, names.head).equals(readTensorBytes(ck, names.embed));
      if (same) tensors.delete(names.head);
      ck.config.tiedHead = same;
    } else {
      ck.config.tiedHead = true;
    }
  }

  // every tensor the forward pass needs, with the right shape and a float dtype
  const expected = expectedTensorShapes(ck.config);
  const missing = [...expected.keys()].filter((n) => !tensors.has(n));
  if (missing.length > 0) {
    throw new CheckpointError(
      'missing_tensor',
      `${absDir} (${files.join(', ')}) lacks ${missing.length} tensor${missing.length === 1 ? '' : 's'} the ${config.arch} forward pass needs: ${missing.join(', ')}`,
    );
  }
  const wrong: string[] = [];
  const badTypes: string[] = [];
  for (const [name, shape] of expected) {
    const t = tensors.get(name)!;
    if (!sameShape(t.shape, shape)) wrong.push(`"${name}" in ${t.file} is ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
    if (!FLOAT_DTYPES.has(t.dtype)) badTypes.push(`"${name}" in ${t.file} is ${t.dtype}`);
  }
  if (wrong.length > 0) {
    throw new CheckpointError('shape_mismatch', `${absDir}: tensor shapes do not match config.json: ${wrong.join('; ')}`);
  }
  if (badTypes.length > 0) {
    throw new CheckpointError('bad_dtype', `${absDir}: weights must be F32, F16, BF16 or F64: ${badTypes.join('; ')}`);
  }
  checkSampledFinite(ck);
  return ck;
}

/** The entry for a canonical tensor name (a name with the architecture's file prefix, e.g. GPT-2's `transformer.`, is accepted too). */
export function tensorEntry(ck: Checkpoint, name: string): TensorEntry {
  const e = ck.tensors.get(name) ?? ck.tensors.get(canonicalTensorName(ck.config.arch, name));
  if (!e) {
    throw new CheckpointError('missing_tensor', `tensor "${name}" is not in checkpoint ${ck.dir}`);
  }
  return e;
}

/** Raw little-endian bytes of one tensor (a fresh, unpooled Buffer). */
export function readTensorBytes(ck: Checkpoint, name: string): Buffer {
  const e = tensorEntry(ck, name);
  const p = path.join(ck.dir, e.file);
  const out = Buffer.from(new ArrayBuffer(e.byteLength));
  const { fd } = openRegularFile(p, `the weight file holding tensor "${e.name}"`);
  try {
    let done = 0;
    while (done < e.byteLength) {
      const n = fs.readSync(fd, out, done, e.byteLength - done, e.offset + done);
      if (n === 0) {
        throw new CheckpointError(
          'file_truncated',
          `${p}: file ended after ${done} of ${e.byteLength} bytes of tensor "${e.name}" (it changed since it was loaded?)`,
        );
      }
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

/** One tensor as float32 (F16 / BF16 / F64 / integer types converted). */
export function readTensorF32(ck: Checkpoint, name: string): Float32Array {
  const e = tensorEntry(ck, name);
  return bytesToF32(readTensorBytes(ck, name), e.dtype);
}

/** Bytes read from each end and the middle of every tensor by the open-time NaN/Inf scan. */
export const FINITE_SAMPLE_BYTES = 4096;

/**
 * Reports NaN / Inf weights at open: reads FINITE_SAMPLE_BYTES from the start, middle and end of
 * every tensor (a few MB for a large model) and refuses the checkpoint if any sampled value is not
 * finite. A sample cannot see every value; the edit pipeline checks every norm and factor it
 * computes as well (Editor.edit), so an edit touching a non-finite weight is never recorded.
 */
export function checkSampledFinite(ck: Checkpoint, sampleBytes = FINITE_SAMPLE_BYTES): void {
  const byFile = new Map<string, TensorEntry[]>();
  for (const t of ck.tensors.values()) if (FLOAT_DTYPES.has(t.dtype) && t.byteLength > 0) byFile.set(t.file, [...(byFile.get(t.file) ?? []), t]);
  for (const [file, entries] of byFile) {
    const p = path.join(ck.dir, file);
    const { fd } = openRegularFile(p, 'the weight file');
    try {
      for (const t of entries) {
        const unit = DTYPE_BYTES[t.dtype];
        const n = Math.min(t.byteLength, sampleBytes - (sampleBytes % unit));
        const mid = Math.floor((t.byteLength - n) / 2 / unit) * unit;
        const starts = [...new Set([0, mid, t.byteLength - n])];
        const buf = Buffer.alloc(n);
        for (const at of starts) {
          let done = 0;
          while (done < n) {
            const r = fs.readSync(fd, buf, done, n - done, t.offset + at + done);
            if (r === 0) throw new CheckpointError('file_truncated', `${p}: file ended inside tensor "${t.name}"`);
            done += r;
          }
          const vals = bytesToF32(buf, t.dtype);
          for (let i = 0; i < vals.length; i++) {
            if (!Number.isFinite(vals[i])) {
              throw new CheckpointError(
                'non_finite',
                `${p}: tensor "${t.name}" holds ${Number.isNaN(vals[i]) ? 'NaN' : 'infinite'} values (element ${at / unit + i} of ${t.byteLength / unit}); ` +
                  `the checkpoint is corrupt (a broken download or an overflowing conversion); re-download or re-export it`,
              );
            }
          }
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}
