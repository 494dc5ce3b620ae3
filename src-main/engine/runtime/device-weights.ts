// The device memory model (README "How memory is used on a GPU"): every checkpoint weight lives on
// the GPU once, in a dtype the provider computes with, and every session of the model (decoding,
// taps, loss and gradient, statistics) takes it from there as a graph input instead of uploading an
// initializer copy of its own.
//
// Why this mechanism (measured on onnxruntime-node 1.30, WebGPU EP, lavapipe; tests/runtime/
// device-weights.test.ts keeps each fact checked):
//   - a session output requested with preferredOutputLocation 'gpu-buffer' stays on the device and
//     can be fed to *another* session on the same device: the WebGPU EP keeps one device per process,
//     so all sessions share it and no copy is made;
//   - such a tensor lives as long as the session that produced it: releasing that session aborts the
//     process on the next use (SIGABRT). So one small "uploader" session per (dtype, rank) stays open
//     for the model's life; it holds no weights of its own (its only node is Identity over a graph
//     input), so keeping it costs nothing but the outputs it owns — the weights;
//   - a tensor uploaded this way stays valid across later runs of the uploader (each run allocates a
//     new output buffer).
// The alternatives DESIGN §2a lists cost more: one session resident at a time re-uploads every weight
// at every switch between decoding, loss and taps (16 GB over PCIe each time for LLaMA-3-8B), and one
// session with If branches would rebuild the whole graph set for every new tap combination.
//
// Host side: each weight is read with pread into one staging buffer (reused, sized to the largest
// weight), converted there if the device needs another dtype (bf16 -> f16: WebGPU has no bf16), fed to
// the uploader, and the staging buffer is reused for the next weight — the host never holds a second
// copy of the weights, and nothing is mapped (pages read go to the page cache, not the process).
// After the upload nothing converts a weight on the host again: `hostConversions` counts each
// conversion and the tests check it does not move during an edit.
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CheckpointError } from '../checkpoint/errors';
import { bf16ToF16InPlace } from '../checkpoint/dtype';
import { openRegularFile } from '../fs-safe';
import { Graph, type DType, type ExternalTensor } from '../graph/ir';
import { prune, serializeModel } from '../onnx/writer';
import type { Device } from './session';
import { internalError } from '../errors';

/** Process-wide counters the tests read (a conversion after load would show as a change here). */
export const deviceWeightCounters = { uploads: 0, hostConversions: 0, hostConversionBytes: 0 };

export interface DeviceWeightsReport {
  device: Device;
  /** weights resident on the device */
  tensors: number;
  /** bytes they take there */
  bytes: number;
  /** bytes of the same weights in the checkpoint files */
  fileBytes: number;
  /** file dtype -> device dtype of what was uploaded, e.g. { bfloat16: 'float16' } */
  conversions: Record<string, DType>;
  uploadSeconds: number;
}

export interface UploadProgress {
  done: number;
  total: number;
  /** bytes uploaded so far / in all (for this batch) */
  bytes: number;
  totalBytes: number;
  tensor: string;
}

const DTYPE_SIZE: Partial<Record<DType, number>> = { float32: 4, float16: 2, bfloat16: 2, float64: 8 };

/**
 * The dtype a weight stored as `file` lives in on `device`. WebGPU computes in f32/f16 only: bf16 and
 * f16 checkpoints go up as f16 (converted once, here), f32 stays f32. f64 weights are refused on a GPU.
 */
export function deviceDtype(device: Device, file: DType, name: string): DType {
  if (file === 'float64')
    throw new CheckpointError('device_dtype', `weight ${name} is float64; GPU providers compute in f32/f16 — open the model with --device cpu`);
  if (device === 'webgpu' && (file === 'bfloat16' || file === 'float16')) return 'float16';
  return file;
}

/** Where a weight's bytes are: the identity of a device copy (row blocks are weights of their own). */
function keyOf(t: ExternalTensor): string {
  return `${t.location}@${t.offset}+${t.length}`;
}

export class DeviceWeights {
  private resident = new Map<string, ort.Tensor>();
  private uploaders = new Map<string, Promise<ort.InferenceSession>>();
  private staging = new ArrayBuffer(0);
  private released = false;
  bytes = 0;
  fileBytes = 0;
  uploadSeconds = 0;
  readonly conversions: Record<string, DType> = {};

  constructor(
    readonly device: Device,
    /** folder the initializers' `location`s are relative to */
    readonly dir: string,
    /** called before an upload with the device bytes it will add (the budget check, memory.ts) */
    private readonly beforeUpload: (bytes: number) => Promise<void> = async () => {},
  ) {}

  /** The external initializers a graph uses, as the graph inputs they become (name -> dtype fed). */
  inputsOf(graph: Graph): Map<string, DType> {
    const { used } = prune(graph);
    const out = new Map<string, DType>();
    for (const [name, init] of graph.initializers) {
      if (init.kind !== 'external' || !used.has(name)) continue;
      out.set(name, deviceDtype(this.device, init.dtype, name));
    }
    return out;
  }

  /** Device bytes the weights of `graph` not yet resident would add. */
  missingBytes(graph: Graph): number {
    let n = 0;
    for (const [name, dtype] of this.inputsOf(graph)) {
      const init = graph.initializers.get(name) as ExternalTensor;
      if (!this.resident.has(keyOf(init))) n += elements(init.dims) * DTYPE_SIZE[dtype]!;
    }
    return n;
  }

  /**
   * Uploads every weight of `graph` that is not on the device yet and returns the feeds that give the
   * graph its weights (input name -> device tensor) and the graph inputs they are (name -> dtype fed).
   */
  async feedsFor(
    graph: Graph,
    progress?: (p: UploadProgress) => void,
  ): Promise<{ feeds: Record<string, ort.Tensor>; inputs: Map<string, DType> }> {
    if (this.released) throw internalError('the device weights were released');
    const inputs = this.inputsOf(graph);
    const todo = [...inputs].filter(([name]) => !this.resident.has(keyOf(graph.initializers.get(name) as ExternalTensor)));
    const sizeOf = ([name, dtype]: [string, DType]) => elements((graph.initializers.get(name) as ExternalTensor).dims) * DTYPE_SIZE[dtype]!;
    const totalBytes = todo.reduce((a, t) => a + sizeOf(t), 0);
    if (todo.length) await this.beforeUpload(totalBytes);
    let bytes = 0;
    const t0 = performance.now();
    for (let i = 0; i < todo.length; i++) {
      const [name, dtype] = todo[i];
      const init = graph.initializers.get(name) as ExternalTensor;
      this.resident.set(keyOf(init), await this.upload(name, init, dtype));
      bytes += sizeOf(todo[i]);
      this.bytes += sizeOf(todo[i]);
      this.fileBytes += init.length;
      progress?.({ done: i + 1, total: todo.length, bytes, totalBytes, tensor: name.replace(/^w:/, '') });
    }
    this.uploadSeconds += (performance.now() - t0) / 1000;
    // the staging buffer is as large as the largest weight: give it back once the batch is up
    this.staging = new ArrayBuffer(0);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of inputs.keys()) feeds[name] = this.resident.get(keyOf(graph.initializers.get(name) as ExternalTensor))!;
    return { feeds, inputs };
  }

  private async upload(name: string, init: ExternalTensor, dtype: DType): Promise<ort.Tensor> {
    if (this.staging.byteLength < init.length) this.staging = new ArrayBuffer(init.length);
    const bytes = new Uint8Array(this.staging, 0, init.length);
    readRange(path.join(this.dir, init.location), init.offset, bytes, name);
    let data: Float32Array | Uint16Array;
    if (dtype === 'float32') data = new Float32Array(this.staging, 0, init.length / 4);
    else if (dtype === 'float16') {
      data = new Uint16Array(this.staging, 0, init.length / 2);
      if (init.dtype === 'bfloat16') {
        const overflow = bf16ToF16InPlace(data);
        deviceWeightCounters.hostConversions++;
        deviceWeightCounters.hostConversionBytes += init.length;
        this.conversions.bfloat16 = 'float16';
        if (overflow)
          throw new CheckpointError(
            'device_dtype',
            `weight ${name.replace(/^w:/, '')}: ${overflow} bf16 value(s) exceed float16's range (±65504), which WebGPU computes in — open the model with --device cpu (or cuda, which keeps bf16)`,
          );
      }
    } else throw new CheckpointError('device_dtype', `weight ${name}: no device upload for dtype ${dtype}`);
    const up = await this.uploader(dtype, init.dims.length);
    const out = await up.run({ x: new ort.Tensor(dtype, data as Float32Array, init.dims) });
    deviceWeightCounters.uploads++;
    return out.y as ort.Tensor;
  }

  /** The Identity session that turns a host tensor into a device-resident one (kept for the model's life). */
  private uploader(dtype: DType, rank: number): Promise<ort.InferenceSession> {
    const key = `${dtype}:${rank}`;
    let s = this.uploaders.get(key);
    if (!s) {
      const g = new Graph(`upload_${dtype}_${rank}`);
      const x = g.input('x', dtype, Array.from({ length: rank }, (_, i) => `d${i}`));
      g.output(g.op('Identity', [x]), 'y');
      s = ort.InferenceSession.create(serializeModel(g), {
        // no buffer cache for the uploader: with the default ('bucket') the device copy of every
        // staged input stays cached after its run, which doubled the device bytes (measured on the
        // 2-layer LLaMA-3-width BF16 checkpoint: 5.9 GiB peak for 2.8 GiB of weights)
        executionProviders: [this.device === 'webgpu' ? ({ name: 'webgpu', storageBufferCacheMode: 'disabled' } as unknown as ort.InferenceSession.ExecutionProviderConfig) : this.device],
        preferredOutputLocation: 'gpu-buffer',
      } as ort.InferenceSession.SessionOptions);
      this.uploaders.set(key, s);
      s.catch(() => this.uploaders.delete(key));
    }
    return s;
  }

  report(): DeviceWeightsReport {
    return {
      device: this.device,
      tensors: this.resident.size,
      bytes: this.bytes,
      fileBytes: this.fileBytes,
      conversions: { ...this.conversions },
      uploadSeconds: this.uploadSeconds,
    };
  }

  /**
   * Frees the device copies, then the uploader sessions (in that order: a tensor must not outlive the
   * session that owns its buffer).
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const t of this.resident.values()) t.dispose();
    this.resident.clear();
    this.bytes = 0;
    for (const s of this.uploaders.values()) {
      const sess = await s.catch(() => null);
      if (sess) await sess.release();
    }
    this.uploaders.clear();
    this.staging = new ArrayBuffer(0);
  }
}

function elements(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function readRange(file: string, offset: number, into: Uint8Array, name: string): void {
  const { fd } = openRegularFile(file, `the weight file holding ${name.replace(/^w:/, '')}`);
  try {
    let done = 0;
    while (done < into.byteLength) {
      const n = fs.readSync(fd, into, done, into.byteLength - done, offset + done);
      if (n === 0)
        throw new CheckpointError('file_truncated', `${file}: ended after ${done} of ${into.byteLength} bytes of ${name.replace(/^w:/, '')} (it changed since it was loaded?)`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
