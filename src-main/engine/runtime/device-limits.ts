// How much a GPU can hold, and the early refusal (before any upload) when the model's weights on the
// device plus an edit's working set would not fit. onnxruntime-node exposes neither the WebGPU
// adapter's limits nor the device's memory, so the capacity comes from the driver's own tool where
// there is one (nvidia-smi for NVIDIA cards, whichever provider runs on them) and, on Mesa's lavapipe
// (a CPU Vulkan driver: device memory is host memory), from the host's available memory.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { Checkpoint } from '../checkpoint';
import { CheckpointError } from '../checkpoint/errors';
import type { Device } from './session';

export interface DeviceCapacity {
  /** the card's name as its driver reports it */
  name: string;
  totalBytes: number;
  freeBytes: number;
  /** where the figures come from */
  source: 'nvidia-smi' | 'host memory (lavapipe)';
}

const GiB = 1024 ** 3;
const fmt = (b: number) => `${(b / GiB).toFixed(2)} GiB`;

/**
 * Bytes a checkpoint's weights take on a GPU: the file bytes, since every device dtype keeps each
 * weight's size (WebGPU holds bf16/f16 as f16 and f32 as f32, CUDA the file dtype; f64 is refused).
 */
export function deviceWeightBytes(ck: Checkpoint): number {
  let n = 0;
  for (const t of ck.tensors.values()) n += t.byteLength;
  return n;
}

/**
 * What an edit needs on the device beside the weights: the f32 cast of the largest weight (a weight
 * is cast where it is used, one at a time) twice (forward and its re-cast in the backward pass) plus
 * 512 MiB for activations, key/value caches and onnxruntime's buffers at the fixtures' to LLaMA-3-8B's
 * prompt lengths.
 */
export function workingSetBytes(ck: Checkpoint): number {
  let largest = 0;
  for (const t of ck.tensors.values()) largest = Math.max(largest, (t.byteLength / (t.dtype === 'F32' ? 4 : t.dtype === 'F64' ? 8 : 2)) * 4);
  return 2 * Math.min(largest, 128 * 1024 ** 2 * 4) + 512 * 1024 ** 2;
}

let smiCache: DeviceCapacity | null | undefined;

/** The first NVIDIA GPU's name and memory from nvidia-smi, or null where there is none. */
export function nvidiaCapacity(): DeviceCapacity | null {
  if (smiCache !== undefined) return smiCache;
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total,memory.free', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const [name, total, free] = out.split('\n')[0].split(',').map((x) => x.trim());
    smiCache = { name, totalBytes: Number(total) * 1024 ** 2, freeBytes: Number(free) * 1024 ** 2, source: 'nvidia-smi' };
    if (!(smiCache.totalBytes > 0)) smiCache = null;
  } catch {
    smiCache = null;
  }
  return smiCache;
}

/** Device memory nvidia-smi attributes to process `pid` (bytes), or null where nvidia-smi is absent or lists it not. */
export function processGpuBytes(pid: number): number | null {
  try {
    const out = execFileSync('nvidia-smi', ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const line of out.split('\n')) {
      const [p, mib] = line.split(',').map((x) => x.trim());
      if (Number(p) === pid) return Number(mib) * 1024 ** 2;
    }
    return null;
  } catch {
    return null;
  }
}

/** Whether the Vulkan loader is pointed at Mesa's lavapipe (scripts/webgpu-env.sh). */
export function onLavapipe(): boolean {
  return /lvp/i.test(process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? '');
}

/** The device's capacity where it can be known; null where no tool reports it. */
export function deviceCapacity(device: Device): DeviceCapacity | null {
  if (device === 'cpu') return null;
  if (device === 'webgpu' && onLavapipe())
    return { name: 'lavapipe (Mesa CPU Vulkan)', totalBytes: os.totalmem(), freeBytes: os.freemem(), source: 'host memory (lavapipe)' };
  return nvidiaCapacity();
}

/**
 * Refuses, before any weight is uploaded, a model whose device bytes plus an edit's working set exceed
 * the device's free memory, naming both numbers. Where the capacity cannot be known it lets the model
 * through (the provider's own allocation error then names the tensor).
 */
export function checkDeviceFits(ck: Checkpoint, device: Device, cap: DeviceCapacity | null = deviceCapacity(device)): void {
  if (!cap) return;
  const weights = deviceWeightBytes(ck);
  const work = workingSetBytes(ck);
  if (weights + work > cap.freeBytes)
    throw new CheckpointError(
      'device_memory',
      `the model needs ${fmt(weights + work)} on ${device} (${fmt(weights)} of weights + ${fmt(work)} working set) but ${cap.name} has ${fmt(cap.freeBytes)} free ` +
        `of ${fmt(cap.totalBytes)} (${cap.source}) — use --device cpu, free GPU memory, or use a larger GPU`,
    );
}
