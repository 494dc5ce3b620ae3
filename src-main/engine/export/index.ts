// Export of the edited checkpoint: an HF folder a user can load elsewhere.
//
// - config.json, tokenizer files and the other small files are copied; README.md is the export's own
//   card (model-card.ts: the base's front matter, what was edited, then the base's card marked as such);
// - weights in any other format (pytorch_model*.bin and its index, tf_model.h5, flax_model.msgpack,
//   *.onnx / *.onnx_data, *.gguf, *.pt / *.pth / *.ckpt, rust_model.ot, a safetensors file or index that
//   is not the set we edited) are never copied: they hold the UNEDITED weights, and a loader that
//   prefers them (TF, Flax, llama.cpp, a `from_pt` load) would silently run the base model. Each one,
//   and each sub-folder (only top-level files are copied), is listed in edits.json `omitted`
//   ({ file, reason }) and in one line of the card;
// - every weight file is rewritten with the same name, the same tensors in the same order, the same
//   dtypes and the same sharding (index file with the same name and weight_map);
// - edited tensors are materialised W0 + ΔW (ΔW = denseDelta of the live deltas, in the weight's own
//   layout: GPT-2 Conv1D c_proj stores [d_ff, d] = ΔWᵀ, LLaMA down_proj [d, d_ff] = ΔW) and written in
//   their original dtype (bf16 / f16 rounded to nearest even); untouched tensors and buffers (GPT-2
//   attn.bias) are copied byte for byte;
// - `__metadata__` carries provenance (format "pt", base hashes, edit ids, methods) and edits.json
//   is the manifest;
// - streamed tensor by tensor (only one edited tensor is ever in memory), with progress;
// - every written file's sha256 is in edits.json (`files`); paths in it and in the metadata are names
//   only (the model folder's, the ledger's), absolute only with `absolutePaths`;
// - safe: outDir must be new, an empty folder, or (overwrite) a previous export of this app; it may not
//   equal or contain the model folder, the ledger or anything in `protect` (real paths: symlinks
//   followed), nor lie inside the model folder;
// - a previous export is recognised by its export id, not by its manifest (anyone can write an
//   edits.json): every export gets a random id, written into edits.json and recorded by the caller
//   (the ledger's export event, with every file's name, size and sha256, edits.json included). An
//   overwrite looks the folder's id up (`knownExport`) and goes ahead only when every entry of the
//   folder is a regular file that export wrote and still has the recorded hash; anything else (an
//   unknown id, a file or folder it did not write, a changed file) is refused naming it, with
//   nothing deleted. It then removes only those files, never a folder: the new files are renamed
//   over the old ones inside the existing folder and the old files the new export does not write
//   are unlinked;
// - atomic where it can be: everything goes to a fresh folder made with mkdtemp beside the target (a
//   name no one else owns); a new target is that folder renamed into place; an existing one (empty,
//   or a previous export) receives its files one rename each, edits.json last. On failure only what
//   this run created is removed. A `<outDir>.partial` that someone else left is never touched.
import { EacError, eacErrorClass, isCancelled, throwIfAborted } from '../errors';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bytesToF32, f32ToBf16, f32ToF16 } from '../checkpoint/dtype';
import { canonicalTensorName, WEIGHTS_INDEX, type Checkpoint } from '../checkpoint/checkpoint';
import { readSafetensorsHeader, type SafetensorsTensor } from '../checkpoint/safetensors';
import { denseDelta } from '../edit/live';
import { mkdirsOnce } from '../paths';
import { FILE_LIMITS, openRegularFile, readJsonFile, readTextFile } from '../fs-safe';
import { exportModelCard } from './model-card';
import type { ExportedEdit, OmittedFile } from './types';
export type { ExportedEdit, OmittedFile } from './types';
import type { EditMethod, LayerDelta } from '../edit/types';

export interface ExportOptions {
  /** the base checkpoint (LoadedModel.ck) */
  ck: Checkpoint;
  /** the live deltas (all applied edits, in order) */
  deltas: readonly LayerDelta[];
  outDir: string;
  /** replace an existing outDir: only an empty folder or a previous export known to `knownExport` (see the header) */
  overwrite?: boolean;
  /**
   * The record of a previous export by its id (what the caller stored from an earlier ExportSummary: `exportId` and
   * `written`), or undefined when the id is not one of its exports. Without it no previous export is replaced.
   */
  knownExport?: (exportId: string) => { files: readonly ExportedFile[] } | undefined;
  /** write absolute local paths (model folder, ledger) into edits.json and the metadata; default: their names only */
  absolutePaths?: boolean;
  /** more paths the export may never equal or contain (the workspace folder, ...); the model and the ledger always are */
  protect?: { path: string; what: string }[];
  provenance?: {
    baseHashes?: Record<string, string>;
    edits?: ExportedEdit[];
    ledger?: string;
    /** anything else to put into edits.json */
    extra?: Record<string, unknown>;
  };
  /** (bytes written, total bytes) */
  onProgress?: (done: number, total: number, message?: string) => void;
  signal?: AbortSignal;
}

/** The `format` of edits.json: the marker of a folder this code wrote (and may replace). */
export const EXPORT_FORMAT = 'eac-studio-export-v1';

export interface ExportedFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface ExportSummary {
  outDir: string;
  /** the random id written into edits.json: record it with `written` so that a later overwrite may replace this export */
  exportId: string;
  /** every file this export wrote, edits.json included (what a later overwrite may remove, with their hashes) */
  written: ExportedFile[];
  /** every file of the export but edits.json, which lists them */
  files: ExportedFile[];
  /** what of the model folder was not copied: weights in another format, sub-folders */
  omitted: OmittedFile[];
  editedTensors: string[];
  bytes: number;
  ms: number;
}

/**
 * code: 'exists' (outDir exists, no overwrite), 'unsafe_target' (outDir is, contains or lies in something protected),
 * 'not_export' (overwrite of a folder that is not a previous export), 'io_error', 'export_failed', ... A cancelled export
 * throws the engine's one cancellation shape instead (cancelledError: an AbortError with code 'cancelled').
 */
export class ExportError extends eacErrorClass('ExportError') {}

/** The model card: the export writes its own (model-card.ts), never the base's as is. */
const CARD = 'README.md';
const UNEDITED = 'unedited weights a loader could use instead of the edited safetensors';
/**
 * Weight formats other than the safetensors set we rewrite, by file name (case-insensitive), each with the reason
 * written into the manifest and card. An index of a sharded set (`<name>.index.json`) is classified by `<name>`.
 */
const FOREIGN_WEIGHTS: [RegExp, string][] = [
  // pytorch_model.bin, pytorch_model-00001-of-00002.bin, and any other .bin (OpenVINO, CTranslate2, adapters):
  // a binary blob in a model folder is weights far more often than not, and a listed omission is visible
  [/\.bin$/i, 'PyTorch / binary weights'],
  [/\.(pt|pth|ckpt)$/i, 'PyTorch checkpoint'],
  [/\.(h5|hdf5|keras)$/i, 'TensorFlow / Keras weights'],
  [/\.msgpack$/i, 'Flax weights'],
  [/\.(onnx|onnx_data|onnx\.data)$/i, 'ONNX model or weights'],
  [/\.(gguf|ggml)$/i, 'GGUF / GGML (llama.cpp) weights'],
  [/\.ot$/i, 'rust-bert (tch) weights'],
  [/\.tflite$/i, 'TensorFlow Lite model'],
  [/\.safetensors$/i, 'safetensors not in the edited weight set'],
];

/** Why `name` (a top-level file of the model folder) is weights the export must not copy, or null. */
export function foreignWeightReason(name: string, ck: Pick<Checkpoint, 'files'>): string | null {
  if (ck.files.includes(name)) return null; // the edited set itself: rewritten, not copied
  const stem = /\.index\.json$/i.test(name) ? name.replace(/\.index\.json$/i, '') : null;
  for (const [re, what] of FOREIGN_WEIGHTS) {
    if (stem === null ? re.test(name) : re.test(stem)) return `${stem === null ? what : `index of ${what}`}: ${UNEDITED}`;
  }
  return null;
}
const CHUNK = 4 << 20;
/** Cap on a manifest (edits.json of a previous export) and on the model card read whole. */
const MANIFEST_LIMIT = 64 << 20;
const CARD_LIMIT = 16 << 20;

function writeAll(fd: number, buf: Uint8Array, hash?: Hash): void {
  let off = 0;
  while (off < buf.byteLength) off += fs.writeSync(fd, buf, off, buf.byteLength - off);
  hash?.update(buf);
}

function readAt(fd: number, buf: Uint8Array, pos: number, what: string): void {
  let done = 0;
  while (done < buf.byteLength) {
    const n = fs.readSync(fd, buf, done, buf.byteLength - done, pos + done);
    if (n === 0) throw new ExportError('file_truncated', `${what}: the file ended early (it changed during the export?)`);
    done += n;
  }
}

/** The edited bytes of one tensor: W0 + ΔW in the tensor's own layout and dtype. */
export function materialise(
  raw: Uint8Array,
  t: { name: string; dtype: string; shape: number[] },
  deltas: LayerDelta[],
  d: number,
  ffn: number,
): Uint8Array {
  const dW = denseDelta(deltas, d, ffn); // d × ffn, float64
  const [r, c] = t.shape;
  let transposed: boolean;
  if (r === d && c === ffn && !(r === ffn && c === d)) transposed = false;
  else if (r === ffn && c === d && !(r === d && c === ffn)) transposed = true;
  else if (r === d && c === d) throw new ExportError('export_failed', `tensor ${t.name}: square d_ff = d layout is ambiguous; pass the layout explicitly`);
  else throw new ExportError('export_failed', `tensor ${t.name} has shape [${t.shape}], not [${d}, ${ffn}] or [${ffn}, ${d}]`);
  const add = (get: (k: number) => number, n: number, out: { set(k: number, v: number): void }) => {
    for (let k = 0; k < n; k++) {
      const row = Math.floor(k / c);
      const col = k - row * c;
      // element (row, col) of the stored matrix is ΔW[col, row] when the layout is ΔWᵀ
      const delta = transposed ? dW[col * ffn + row] : dW[row * ffn + col];
      out.set(k, get(k) + delta);
    }
  };
  const n = r * c;
  if (t.dtype === 'F64') {
    const w = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const o = new Float64Array(n);
    add((k) => w[k], n, { set: (k, v) => (o[k] = v) });
    return new Uint8Array(o.buffer);
  }
  if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') throw new ExportError('export_failed', `tensor ${t.name}: cannot edit dtype ${t.dtype}`);
  const w = bytesToF32(raw, t.dtype);
  const o = new Float32Array(n);
  add((k) => w[k], n, { set: (k, v) => (o[k] = v) });
  if (t.dtype === 'F32') return new Uint8Array(o.buffer);
  const h = t.dtype === 'BF16' ? f32ToBf16(o) : f32ToF16(o);
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

/** Header bytes: the original tensor entries (names, dtypes, shapes, offsets) with new metadata. */
function headerBytes(tensors: SafetensorsTensor[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = Object.create(null);
  header.__metadata__ = metadata;
  let pos = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + t.byteLength] };
    pos += t.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length), 0);
  return Buffer.concat([len, json]);
}

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } catch {
    /* directory fsync is not supported everywhere */
  } finally {
    fs.closeSync(fd);
  }
}

/** The real path of p: symlinks followed for the part that exists, the rest appended as written. */
export function realResolve(p: string): string {
  let head = path.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...rest);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return path.join(head, ...rest);
      const up = path.dirname(head);
      if (up === head) return path.join(head, ...rest);
      rest.unshift(path.basename(head));
      head = up;
    }
  }
}

/** a === b or a inside b */
function within(a: string, b: string): boolean {
  const rel = path.relative(b, a);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/** An export id: 32 lowercase hex digits (128 random bits). */
const EXPORT_ID_RE = /^[0-9a-f]{32}$/;

/** What an overwrite may replace, as verified: the folder's entries with the identity (inode, size, mtime) they had. */
interface Replaceable {
  /** the previous export's id; null for an empty folder */
  exportId: string | null;
  /** name -> identity of the file when it was verified */
  files: Map<string, { ino: number; size: number; mtimeMs: number }>;
}

const shortList = (xs: string[]) => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? `, ... (${xs.length} in all)` : ''}`;

/** sha256 of a regular file, streamed, yielding to the event loop between chunks. */
async function hashFile(file: string, signal?: AbortSignal): Promise<{ sha256: string; ino: number; size: number; mtimeMs: number }> {
  const { fd } = openRegularFile(file, 'a file of the previous export');
  try {
    const st = fs.fstatSync(fd);
    const hash = createHash('sha256');
    const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, st.size)));
    for (let off = 0; off < st.size; off += buf.byteLength) {
      throwIfAborted(signal, 'export cancelled');
      const view = buf.subarray(0, Math.min(buf.byteLength, st.size - off));
      readAt(fd, view, off, file);
      hash.update(view);
      await new Promise((r) => setImmediate(r));
    }
    return { sha256: hash.digest('hex'), ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Decide whether the existing folder `dir` may be replaced: it is empty, or it is a previous export of this app: its
 * edits.json names an export id that `knownExport` knows, and every entry of the folder is a regular file that export
 * wrote with the size and sha256 it recorded. Throws ExportError 'not_export' naming what stands in the way; reads
 * only.
 */
async function verifyReplaceable(dir: string, shown: string, o: ExportOptions): Promise<Replaceable> {
  const refuse = (why: string) =>
    new ExportError(
      'not_export', `refusing to replace ${shown}: ${why}. Nothing was deleted; an overwrite only replaces an empty folder or an ` +
        `unchanged previous export recorded in this ledger: remove or move what is there yourself, or choose another folder`,
    );
  const names = fs.readdirSync(dir);
  if (names.length === 0) return { exportId: null, files: new Map() };
  if (!names.includes('edits.json')) throw refuse(`it is not empty and has no edits.json (${shortList(names)})`);
  let manifest: { format?: unknown; exportId?: unknown };
  try {
    const st = fs.lstatSync(path.join(dir, 'edits.json'));
    if (!st.isFile() || st.size > MANIFEST_LIMIT) throw refuse('its edits.json is not a regular file of a sensible size');
    // through the safe opener as well: a FIFO swapped in after the lstat fails at once instead of blocking
    manifest = JSON.parse(readTextFile(path.join(dir, 'edits.json'), MANIFEST_LIMIT, 'the existing edits.json'));
  } catch (e) {
    if (e instanceof ExportError) throw e;
    throw refuse(`its edits.json is not readable JSON (${(e as Error).message})`);
  }
  if (!manifest || manifest.format !== EXPORT_FORMAT) throw refuse(`its edits.json is not an EAC Studio export manifest (format is not "${EXPORT_FORMAT}")`);
  const id = manifest.exportId;
  if (typeof id !== 'string' || !EXPORT_ID_RE.test(id))
    throw refuse('its edits.json carries no export id (it was written by hand, or by an EAC Studio from before export ids)');
  const record = o.knownExport?.(id);
  if (!record) throw refuse(`its export id ${id} is not recorded in ${o.provenance?.ledger ? `the ledger ${o.provenance.ledger}` : 'this ledger'} (another ledger's export, or a copied manifest)`);
  const listed = new Map(record.files.map((f) => [f.name, f]));
  const unlisted = names.filter((n) => !listed.has(n));
  if (unlisted.length) throw refuse(`it holds ${unlisted.length > 1 ? 'entries' : 'an entry'} that export ${id} did not write (${shortList(unlisted)})`);
  const files: Replaceable['files'] = new Map();
  for (const name of names) {
    const p = path.join(dir, name);
    const st = fs.lstatSync(p);
    if (!st.isFile()) throw refuse(`${name} is ${st.isDirectory() ? 'a folder' : st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}, not the file export ${id} wrote`);
    const want = listed.get(name)!;
    if (st.size !== want.bytes) throw refuse(`${name} changed since export ${id} wrote it (${st.size} bytes, it wrote ${want.bytes})`);
    const now = await hashFile(p, o.signal);
    if (now.sha256 !== want.sha256) throw refuse(`${name} changed since export ${id} wrote it (sha256 ${now.sha256}, it wrote ${want.sha256})`);
    files.set(name, { ino: now.ino, size: now.size, mtimeMs: now.mtimeMs });
  }
  return { exportId: id, files };
}

/**
 * Right before the files move: the folder still holds exactly the verified files, each the same inode, size and mtime
 * (a change since verifyReplaceable, which hashed them, is refused naming the entry).
 */
function recheckReplaceable(dir: string, r: Replaceable): void {
  const refuse = (why: string) => new ExportError('not_export', `refusing to replace ${dir}: ${why} while the export was being written; nothing was deleted`);
  const names = fs.readdirSync(dir);
  const added = names.filter((n) => !r.files.has(n));
  if (added.length) throw refuse(`${shortList(added)} appeared in it`);
  for (const name of names) {
    const was = r.files.get(name)!;
    const st = fs.lstatSync(path.join(dir, name));
    if (!st.isFile() || st.ino !== was.ino || st.size !== was.size || st.mtimeMs !== was.mtimeMs) throw refuse(`${name} changed`);
  }
}

/**
 * Where the export may go: the real target path, after refusing targets that are, contain or lie inside the model
 * folder, or are or contain a protected path; and an existing target unless it may be replaced (what it holds then).
 */
async function checkTarget(o: ExportOptions, outDir: string): Promise<{ target: string; replace: Replaceable | null }> {
  const target = realResolve(outDir);
  const modelDir = realResolve(o.ck.dir);
  const shown = target === outDir ? outDir : `${outDir} (${target})`;
  if (within(target, modelDir) || within(modelDir, target))
    throw new ExportError(
      'unsafe_target', `refusing to export to ${shown}: it ${within(target, modelDir) ? 'is or lies inside' : 'contains'} the model folder ${o.ck.dir}`,
    );
  const protect = [...(o.provenance?.ledger ? [{ path: o.provenance.ledger, what: 'the ledger' }] : []), ...(o.protect ?? [])];
  for (const p of protect) {
    const real = realResolve(p.path);
    if (within(real, target)) throw new ExportError('unsafe_target', `refusing to export to ${shown}: it ${real === target ? 'is' : 'contains'} ${p.what} ${p.path}`);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch {
    return { target, replace: null };
  }
  if (!st.isDirectory()) throw new ExportError('exists', `${shown} exists and is not a folder; choose another output folder`);
  if (!o.overwrite) throw new ExportError('exists', `${shown} already exists (pass overwrite to replace a previous export there)`);
  return { target, replace: await verifyReplaceable(target, shown, o) };
}

/**
 * Move the finished export from `work` into the existing folder `target` (verified replaceable): each new file renamed
 * over its old namesake (edits.json last), then the old export's files the new one does not write unlinked. Only files
 * are removed, and only those verified; the folder stays.
 */
function moveInto(work: string, target: string, r: Replaceable, written: readonly ExportedFile[]): void {
  recheckReplaceable(target, r);
  const names = written.map((f) => f.name).filter((n) => n !== 'edits.json');
  for (const n of [...names, 'edits.json']) fs.renameSync(path.join(work, n), path.join(target, n));
  const kept = new Set([...names, 'edits.json']);
  for (const [name, was] of r.files) {
    if (kept.has(name)) continue;
    const p = path.join(target, name);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    // a file of the old export that someone replaced meanwhile is left alone
    if (st && st.isFile() && st.ino === was.ino && st.size === was.size && st.mtimeMs === was.mtimeMs) fs.unlinkSync(p);
  }
  fs.rmdirSync(work);
}

function ioError(what: string, e: unknown): ExportError {
  return new ExportError('io_error', `${what}: ${(e as Error).message}`);
}

export async function exportCheckpoint(o: ExportOptions): Promise<ExportSummary> {
  const t0 = performance.now();
  const { ck } = o;
  const outDir = path.resolve(o.outDir);
  const { target, replace } = await checkTarget(o, outDir);
  const exportId = randomBytes(16).toString('hex');
  const parent = path.dirname(target);
  const base = path.basename(target);
  const headers = ck.files.map((f) => readSafetensorsHeader(path.join(ck.dir, f)));
  const total = headers.reduce((a, h) => a + h.dataLength, 0);
  try {
    // not fs.mkdirSync(recursive): it retries forever where mkdir fails with ENOENT under an existing parent (/proc)
    mkdirsOnce(parent);
  } catch (e) {
    throw ioError(`cannot create the folder ${parent} for the export`, e);
  }
  // the run's own scratch folder: a name nobody else has (mkdtemp, 0700); only it is removed on failure
  let work: string;
  try {
    work = fs.mkdtempSync(path.join(parent, `.${base}.partial-`));
  } catch (e) {
    throw ioError(`cannot create a folder in ${parent} to export ${outDir}`, e);
  }
  const { hidden: d, ffn, arch } = ck.config;
  const show = (p: string | undefined | null) => (p ? (o.absolutePaths ? p : path.basename(p)) : null);

  const files: ExportedFile[] = [];
  let written: ExportedFile[] = [];
  const omitted: OmittedFile[] = [];
  const editedTensors: string[] = [];
  try {
    // deltas per canonical tensor
    const byTensor = new Map<string, LayerDelta[]>();
    for (const x of o.deltas) {
      const list = byTensor.get(x.tensor) ?? [];
      list.push(x);
      byTensor.set(x.tensor, list);
    }
    for (const name of byTensor.keys()) if (!ck.tensors.has(name)) throw new ExportError('export_failed', `an edit targets tensor "${name}", which the checkpoint does not have`);

    const edits = o.provenance?.edits ?? [];
    const methods = [...new Set(edits.map((e) => e.method))];
    const prov: Record<string, string> = {
      format: 'pt',
      eac_studio_export: '1',
      eac_base_path: show(ck.dir)!,
      eac_base_sha256: JSON.stringify(o.provenance?.baseHashes ?? {}),
      eac_edit_ids: JSON.stringify(edits.map((e) => e.id)),
      eac_methods: JSON.stringify(methods),
      eac_edited_tensors: JSON.stringify([...byTensor.keys()].sort()),
    };

    let done = 0;
    o.onProgress?.(0, total, 'export');
    /** write a small file 0600, fsynced, and list it with its hash */
    const writeSmall = (name: string, bytes: Uint8Array) => {
      const p = path.join(work, name);
      const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      try {
        writeAll(fd, bytes);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      return { name, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
    };
    /**
     * copy a file of the model folder unchanged (0600, fsynced, listed with its hash): opened as a regular file
     * only (a FIFO swapped in after the listing fails at once) and streamed in CHUNK pieces, so no size cap is
     * needed for memory (a large tokenizer, a vocabulary; weights of other formats are never copied)
     */
    const copyAsIs = (name: string) => {
      const srcPath = path.join(ck.dir, name);
      const src = openRegularFile(srcPath, 'a file of the model folder');
      const hash = createHash('sha256');
      let out: number | null = null;
      try {
        out = fs.openSync(path.join(work, name), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
        const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, src.size)));
        for (let off = 0; off < src.size; off += buf.byteLength) {
          const view = buf.subarray(0, Math.min(buf.byteLength, src.size - off));
          readAt(src.fd, view, off, srcPath);
          writeAll(out, view, hash);
        }
        fs.fsyncSync(out);
      } finally {
        if (out !== null) fs.closeSync(out);
        fs.closeSync(src.fd);
      }
      return { name, bytes: src.size, sha256: hash.digest('hex') };
    };

    for (let fi = 0; fi < ck.files.length; fi++) {
      const file = ck.files[fi];
      const h = headers[fi];
      const tensors = [...h.tensors].sort((a, b) => a.begin - b.begin);
      const dst = path.join(work, file);
      const hash = createHash('sha256');
      const out = fs.openSync(dst, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      let src: number | null = null;
      let bytes = 0;
      try {
        // a regular file only (a FIFO swapped in since the header was read fails at once)
        src = openRegularFile(path.join(ck.dir, file), 'the weight file').fd;
        const hb = headerBytes(tensors, { ...h.metadata, ...prov });
        writeAll(out, hb, hash);
        bytes += hb.byteLength;
        for (const t of tensors) {
          throwIfAborted(o.signal, 'export cancelled');
          const canon = canonicalTensorName(arch, t.name);
          const ds = byTensor.get(canon);
          if (ds) {
            const raw = new Uint8Array(t.byteLength);
            readAt(src, raw, t.offset, `${path.join(ck.dir, file)} tensor ${t.name}`);
            const edited = materialise(raw, { name: t.name, dtype: t.dtype, shape: t.shape }, ds, d, ffn);
            if (edited.byteLength !== t.byteLength) throw new ExportError('export_failed', `tensor ${t.name}: materialised ${edited.byteLength} bytes, expected ${t.byteLength}`);
            writeAll(out, edited, hash);
            editedTensors.push(canon);
            done += t.byteLength;
            o.onProgress?.(done, total, `${t.name} (edited)`);
          } else {
            const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, t.byteLength)));
            for (let off = 0; off < t.byteLength; off += buf.byteLength) {
              const n = Math.min(buf.byteLength, t.byteLength - off);
              const view = buf.subarray(0, n);
              readAt(src, view, t.offset + off, `${path.join(ck.dir, file)} tensor ${t.name}`);
              writeAll(out, view, hash);
              done += n;
            }
            o.onProgress?.(done, total, t.name);
          }
          bytes += t.byteLength;
          // let the event loop breathe between tensors (progress messages, cancellation)
          await new Promise((r) => setImmediate(r));
        }
        fs.fsyncSync(out);
      } finally {
        fs.closeSync(out);
        if (src !== null) fs.closeSync(src);
      }
      files.push({ name: file, bytes, sha256: hash.digest('hex') });
    }
    const missing = [...byTensor.keys()].filter((n) => !editedTensors.includes(n));
    if (missing.length) throw new ExportError('export_failed', `edited tensors not found in any weight file: ${missing.join(', ')}`);

    // the index (same name, same weight_map), with provenance in its metadata
    const indexSrc = path.join(ck.dir, WEIGHTS_INDEX);
    let indexWritten = false;
    if (fs.existsSync(indexSrc) && ck.files.length > 0 && !ck.files.includes('model.safetensors')) {
      const idx = readJsonFile(indexSrc, FILE_LIMITS.index, 'the weight index', 'bad_index') as { metadata?: Record<string, unknown>; weight_map: Record<string, string> };
      idx.metadata = { ...(idx.metadata ?? {}), ...prov };
      files.push(writeSmall(WEIGHTS_INDEX, Buffer.from(JSON.stringify(idx, null, 2) + '\n')));
      indexWritten = true;
    }
    // config, tokenizer and the other small files (regular files only); weights of any other format left out
    for (const e of fs.readdirSync(ck.dir, { withFileTypes: true })) {
      if (e.name.startsWith('.') || ck.files.includes(e.name) || e.name === 'edits.json') continue;
      if (e.name === WEIGHTS_INDEX) {
        // beside model.safetensors (which the loader takes), the index describes a second, unedited set
        if (!indexWritten) omitted.push({ file: e.name, reason: `index of safetensors not in the edited weight set: ${UNEDITED}` });
        continue;
      }
      if (e.name === CARD) continue; // written below: the export's own card
      const p = path.join(ck.dir, e.name);
      const st = fs.statSync(p);
      if (st.isDirectory()) {
        // LLaMA-3's original/ (consolidated.00.pth), an onnx/ export: nothing below the top level is copied
        omitted.push({ file: `${e.name}/`, reason: 'a sub-folder: an export copies only the top-level files of the model folder' });
        continue;
      }
      const why = foreignWeightReason(e.name, ck);
      if (why) {
        omitted.push({ file: e.name, reason: why });
        continue;
      }
      if (!st.isFile()) continue; // FIFOs, sockets, devices: not part of the checkpoint
      files.push(copyAsIs(e.name));
    }
    omitted.sort((a, b) => a.file.localeCompare(b.file));
    const createdAt = new Date().toISOString();
    const cardSrc = path.join(ck.dir, CARD);
    const baseCard = fs.existsSync(cardSrc) && fs.statSync(cardSrc).isFile() ? readTextFile(cardSrc, CARD_LIMIT, 'the model card') : null;
    const card = exportModelCard({ baseName: path.basename(ck.dir), arch, baseCard, edits, editedTensors: editedTensors.slice().sort(), omitted, createdAt });
    files.push(writeSmall(CARD, Buffer.from(card)));
    files.sort((a, b) => a.name.localeCompare(b.name));
    const manifest = {
      ...(o.provenance?.extra ?? {}),
      format: EXPORT_FORMAT,
      exportId,
      createdAt,
      base: { path: show(ck.dir), arch, fileHashes: o.provenance?.baseHashes ?? {} },
      ledger: show(o.provenance?.ledger),
      edits,
      editedTensors: editedTensors.slice().sort(),
      files,
      omitted,
    };
    written = [...files, writeSmall('edits.json', Buffer.from(JSON.stringify(manifest, null, 2) + '\n'))];
    fsyncPath(work);

    if (replace) {
      // an existing folder (empty, or a verified previous export) stays; files move into it
      try {
        moveInto(work, target, replace, written);
      } catch (e) {
        if (e instanceof ExportError) throw e;
        throw ioError(`cannot move the export into ${target} (files already moved there are the new export's)`, e);
      }
    } else {
      try {
        fs.renameSync(work, target);
      } catch (e) {
        throw ioError(`cannot move the export into place at ${target}`, e);
      }
    }
    fsyncPath(target);
    fsyncPath(parent);
  } catch (e) {
    // only this run's own scratch folder (gone once renamed into place or emptied into the target)
    fs.rmSync(work, { recursive: true, force: true });
    if (e instanceof ExportError) throw e;
    // a cancellation keeps the engine's one shape (and its message), not wrapped as an export failure
    if (isCancelled(e)) throw e;
    // a refused input file (engine/fs-safe: not a regular file, too large, bad JSON) keeps its code
    if (e instanceof EacError) throw new ExportError(e.code, `export to ${outDir} failed: ${e.message}`, { cause: e });
    throw ioError(`export to ${outDir} failed`, e);
  }
  o.onProgress?.(total, total, 'done');
  return {
    outDir,
    exportId,
    written,
    files,
    omitted,
    editedTensors: editedTensors.sort(),
    bytes: files.reduce((a, f) => a + f.bytes, 0),
    ms: performance.now() - t0,
  };
}
