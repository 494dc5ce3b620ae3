// A tiny hand-written .npy + zip writer: ROME-style .npz files for the statistics reader's tests, each
// field written as numpy / zip write it (stored or deflated entries, .npy versions 1 and 2, zip64 extras).
import zlib from 'node:zlib';

export type Descr = '<f4' | '<f8' | '<i8' | string;

export function npy(descr: Descr, shape: number[], values: number[], opts: { version?: 1 | 2; fortran?: boolean } = {}): Buffer {
  const version = opts.version ?? 1;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + header.length + 1) / 64) * 64;
  header = header.padEnd(total - pre - 1, ' ') + '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  let data: Buffer;
  if (descr === '<f4') {
    data = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => data.writeFloatLE(v, 4 * i));
  } else if (descr === '<i8') {
    data = Buffer.alloc(values.length * 8);
    values.forEach((v, i) => data.writeBigInt64LE(BigInt(v), 8 * i));
  } else if (descr === '<f8') {
    data = Buffer.alloc(values.length * 8);
    values.forEach((v, i) => data.writeDoubleLE(v, 8 * i));
  } else {
    data = Buffer.alloc(values.length * 2); // some other dtype: bytes only matter for its size
  }
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

export interface ZipEntrySpec {
  name: string;
  data: Buffer;
  method?: number; // 0 stored, 8 deflate; anything else is written stored but labelled so
  zip64?: boolean; // central directory sizes/offset via the zip64 extra field
  badCrc?: boolean;
}

export function zip(entries: ZipEntrySpec[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const payload = method === 8 ? zlib.deflateRawSync(e.data) : e.data;
    const crc = (zlib.crc32(e.data) ^ (e.badCrc ? 1 : 0)) >>> 0;
    const name = Buffer.from(e.name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(payload.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    parts.push(local, name, payload);
    let extra = Buffer.alloc(0);
    if (e.zip64) {
      extra = Buffer.alloc(4 + 24);
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(payload.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(45, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(method, 10);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(e.zip64 ? 0xffffffff : payload.length, 20);
    c.writeUInt32LE(e.zip64 ? 0xffffffff : e.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(e.zip64 ? 0xffffffff : offset, 42);
    central.push(c, name, extra);
    offset += local.length + name.length + payload.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cd, end]);
}
