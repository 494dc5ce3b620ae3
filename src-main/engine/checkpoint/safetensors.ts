import fs from 'node:fs';
import { CheckpointError } from './errors';
import { DTYPE_BYTES, isStDType, type StDType } from './dtype';
import { jsonErrorMessage, openRegularFile } from '../fs-safe';

/** Largest header the loader accepts (the safetensors reference library uses the same 100 MB cap). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsTensor {
  name: string;
  dtype: StDType;
  shape: number[];
  /** data_offsets as written, relative to the start of the data section */
  begin: number;
  end: number;
  /** absolute byte offset of the data in the file */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  headerLength: number;
  /** absolute offset where the data section starts (8 + headerLength) */
  dataStart: number;
  dataLength: number;
  metadata: Record<string, string>;
  /** in header order */
  tensors: SafetensorsTensor[];
}

function readExactly(fd: number, buf: Uint8Array, position: number): number {
  let done = 0;
  while (done < buf.byteLength) {
    const n = fs.readSync(fd, buf, done, buf.byteLength - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads and validates the header of one safetensors file, synchronously, without reading tensor
 * data. `label` names the file in error messages (defaults to the path).
 *
 * Checks: file >= 8 bytes; u64 LE header length in (0, 100 MB] and within the file; header is UTF-8
 * JSON object; optional `__metadata__` is a string map; every entry has a known dtype, a shape of
 * non-negative integers, data_offsets [begin, end] of integers with begin <= end and
 * end - begin == prod(shape) * dtype bytes; no two tensors share bytes; every tensor lies inside the
 * data section (a file whose tensors tile the data section contiguously but run past its end is
 * reported as 'file_truncated', anything else as 'offset_out_of_range'). Unused bytes in the data
 * section are allowed.
 */
export function readSafetensorsHeader(filePath: string, label: string = filePath): SafetensorsHeader {
  // regular files only, opened without blocking (a FIFO named model.safetensors is refused at once)
  const { fd, size: fileSize } = openRegularFile(filePath, 'the safetensors file');
  try {
    if (fileSize < 8) {
      throw new CheckpointError(
        'file_truncated',
        `${label}: file is ${fileSize} bytes, shorter than the 8-byte safetensors header length (truncated download or not a safetensors file)`,
      );
    }
    const lenBuf = Buffer.alloc(8);
    readExactly(fd, lenBuf, 0);
    const len64 = lenBuf.readBigUInt64LE(0);
    if (len64 === 0n) {
      throw new CheckpointError('header_too_short', `${label}: header length is 0; a safetensors header must be a non-empty JSON object`);
    }
    if (len64 > BigInt(MAX_HEADER_BYTES)) {
      throw new CheckpointError(
        'header_too_large',
        `${label}: header length ${len64} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt file or not a safetensors file)`,
      );
    }
    const headerLength = Number(len64);
    if (headerLength > fileSize - 8) {
      throw new CheckpointError(
        'file_truncated',
        `${label}: header length ${headerLength} exceeds the ${fileSize - 8} bytes after the length field (truncated download or not a safetensors file)`,
      );
    }
    if (headerLength < 2) {
      throw new CheckpointError('header_too_short', `${label}: header length ${headerLength} is too short for a JSON object`);
    }
    const hbuf = Buffer.alloc(headerLength);
    if (readExactly(fd, hbuf, 8) !== headerLength) {
      throw new CheckpointError('file_truncated', `${label}: file ended while reading the ${headerLength}-byte header`);
    }
    const dataStart = 8 + headerLength;
    const dataLength = fileSize - dataStart;
    const header = parseHeaderJson(hbuf, label);
    return validateHeader(header, { file: label, fileSize, headerLength, dataStart, dataLength });
  } finally {
    fs.closeSync(fd);
  }
}

function parseHeaderJson(hbuf: Buffer, label: string): Record<string, unknown> {
  let text: string;
  try {
    text = decoder.decode(hbuf);
  } catch {
    throw new CheckpointError('header_json', `${label}: header is not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError('header_json', `${label}: header is ${jsonErrorMessage(e, text)}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CheckpointError('header_json', `${label}: header must be a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`);
  }
  return parsed as Record<string, unknown>;
}

interface Layout {
  file: string;
  fileSize: number;
  headerLength: number;
  dataStart: number;
  dataLength: number;
}

function validateHeader(header: Record<string, unknown>, lay: Layout): SafetensorsHeader {
  const label = lay.file;
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new CheckpointError('header_json', `${label}: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') {
          throw new CheckpointError('header_json', `${label}: __metadata__ value for "${k}" must be a string, got ${JSON.stringify(v)}`);
        }
        metadata[k] = v;
      }
      continue;
    }
    const where = `${label}: tensor "${name}"`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new CheckpointError('header_json', `${where}: entry must be an object with dtype, shape and data_offsets`);
    }
    const e = entry as Record<string, unknown>;
    if (!isStDType(e.dtype)) {
      throw new CheckpointError(
        'bad_dtype',
        `${where}: unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`,
      );
    }
    const dtype = e.dtype;
    if (!Array.isArray(e.shape) || !e.shape.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s >= 0)) {
      throw new CheckpointError('bad_shape', `${where}: shape must be a list of non-negative integers, got ${JSON.stringify(e.shape)}`);
    }
    const shape = e.shape as number[];
    let elems = 1;
    for (const s of shape) {
      elems *= s;
      if (!Number.isSafeInteger(elems * DTYPE_BYTES[dtype])) {
        throw new CheckpointError('bad_shape', `${where}: shape ${JSON.stringify(shape)} is too large`);
      }
    }
    const offs = e.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new CheckpointError(
        'offset_out_of_range',
        `${where}: data_offsets must be two non-negative integers [begin, end], got ${JSON.stringify(offs)}`,
      );
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) {
      throw new CheckpointError('offset_out_of_range', `${where}: data_offsets [${begin}, ${end}] has begin > end`);
    }
    const expected = elems * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new CheckpointError(
        'length_mismatch',
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
      );
    }
    tensors.push({ name, dtype, shape: [...shape], begin, end, offset: lay.dataStart + begin, byteLength: expected });
  }

  // overlap: sort the non-empty ranges by begin; each must start at or after the previous end
  const ranges = tensors.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1];
    const cur = ranges[i];
    if (cur.begin < prev.end) {
      throw new CheckpointError(
        'overlap',
        `${label}: tensor "${cur.name}" [${cur.begin}, ${cur.end}) overlaps tensor "${prev.name}" [${prev.begin}, ${prev.end})`,
      );
    }
  }

  // range: every tensor inside the data section
  const outside = tensors.filter((t) => t.end > lay.dataLength);
  if (outside.length > 0) {
    const maxEnd = Math.max(...tensors.map((t) => t.end));
    let contiguous = ranges.length > 0 && ranges[0].begin === 0;
    for (let i = 1; contiguous && i < ranges.length; i++) if (ranges[i].begin !== ranges[i - 1].end) contiguous = false;
    const first = outside.sort((a, b) => a.begin - b.begin)[0];
    if (contiguous) {
      throw new CheckpointError(
        'file_truncated',
        `${label}: file is truncated: the header describes ${maxEnd} bytes of tensor data but the file holds ${lay.dataLength} ` +
          `(file size ${lay.fileSize}); tensor "${first.name}" [${first.begin}, ${first.end}) runs past the end. Re-download the file.`,
      );
    }
    throw new CheckpointError(
      'offset_out_of_range',
      `${label}: tensor "${first.name}" data_offsets [${first.begin}, ${first.end}] run past the end of the ${lay.dataLength}-byte data section`,
    );
  }

  return { ...lay, metadata, tensors };
}

export interface SafetensorsWriteTensor {
  name: string;
  dtype: StDType;
  shape: number[];
  data: Uint8Array;
}

/**
 * Serializes tensors into safetensors bytes (header padded with spaces to a multiple of 8, tensors
 * laid out contiguously in the given order).
 */
export function encodeSafetensors(tensors: SafetensorsWriteTensor[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = Object.create(null);
  if (metadata) header.__metadata__ = metadata;
  let pos = 0;
  for (const t of tensors) {
    const need = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (need !== t.data.byteLength) {
      throw new CheckpointError('length_mismatch', `tensor "${t.name}": ${t.data.byteLength} bytes given but ${t.dtype} ${JSON.stringify(t.shape)} needs ${need}`);
    }
    if (Object.hasOwn(header, t.name)) throw new CheckpointError('duplicate_tensor', `tensor "${t.name}" given twice`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + need] };
    pos += need;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.length + pos);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const t of tensors) {
    out.set(t.data, at);
    at += t.data.byteLength;
  }
  return out;
}

/** Writes a safetensors file (see encodeSafetensors). */
export function writeSafetensors(filePath: string, tensors: SafetensorsWriteTensor[], metadata?: Record<string, string>): void {
  fs.writeFileSync(filePath, encodeSafetensors(tensors, metadata));
}
