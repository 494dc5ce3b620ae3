/**
 * Smoke test: onnxruntime-node's bundled WebGPU EP (Dawn -> Vulkan) runs a tiny
 * MatMul+Add graph and matches the CPU EP within float32 rounding (a rigorous γ bound, see below).
 *
 * On GPU-less CI this runs on Mesa lavapipe:
 *   sudo scripts/setup-system.sh
 *   source scripts/webgpu-env.sh && npx vitest run tests/runtime/webgpu-smoke.test.ts
 *
 * Skipped (with the reason printed) when VK_ICD_FILENAMES is unset.
 */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { F32_U, gamma } from '../tolerance';

// ---------------------------------------------------------------------------
// Minimal protobuf writer, just enough for an ONNX ModelProto.
// ---------------------------------------------------------------------------
type Bytes = Uint8Array;

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n; // two's complement for negative int64
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

const concat = (parts: (Bytes | number[])[]): Bytes => {
  const arrs = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrs.reduce((s, a) => s + a.length, 0));
  let o = 0;
  for (const a of arrs) {
    out.set(a, o);
    o += a.length;
  }
  return out;
};

/** varint field (wire type 0) */
const fInt = (field: number, n: number | bigint): Bytes => concat([varint((field << 3) | 0), varint(n)]);
/** length-delimited field (wire type 2) */
const fBytes = (field: number, b: Bytes): Bytes => concat([varint((field << 3) | 2), varint(b.length), b]);
const fStr = (field: number, s: string): Bytes => fBytes(field, new TextEncoder().encode(s));
const msg = (...fields: Bytes[]): Bytes => concat(fields);

// ONNX enums / field numbers (onnx/onnx.proto3)
const FLOAT = 1; // TensorProto.DataType.FLOAT

function tensorType(dims: number[]): Bytes {
  // TypeProto { tensor_type(1): Tensor { elem_type(1), shape(2): TensorShapeProto { dim(1): { dim_value(1) } } } }
  const shape = msg(...dims.map((d) => fBytes(1, msg(fInt(1, d)))));
  return msg(fBytes(1, msg(fInt(1, FLOAT), fBytes(2, shape))));
}
const valueInfo = (name: string, dims: number[]): Bytes => msg(fStr(1, name), fBytes(2, tensorType(dims)));

function node(op: string, inputs: string[], outputs: string[], name: string): Bytes {
  // NodeProto { input(1)*, output(2)*, name(3), op_type(4) }
  return msg(...inputs.map((i) => fStr(1, i)), ...outputs.map((o) => fStr(2, o)), fStr(3, name), fStr(4, op));
}

function floatInitializer(name: string, dims: number[], data: Float32Array): Bytes {
  // TensorProto { dims(1)*, data_type(2), name(8), raw_data(9) }  (raw_data is little-endian)
  const raw = new Uint8Array(data.length * 4);
  const dv = new DataView(raw.buffer);
  data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return msg(...dims.map((d) => fInt(1, d)), fInt(2, FLOAT), fStr(8, name), fBytes(9, raw));
}

/** Y[2,4] = MatMul(A[2,3], B[3,4]) + C[4]   (C is an initializer) */
function buildMatMulAddModel(bias: Float32Array): Bytes {
  const graph = msg(
    fBytes(1, node('MatMul', ['A', 'B'], ['AB'], 'matmul')),
    fBytes(1, node('Add', ['AB', 'C'], ['Y'], 'add')),
    fStr(2, 'matmul_add'),
    fBytes(5, floatInitializer('C', [4], bias)),
    fBytes(11, valueInfo('A', [2, 3])),
    fBytes(11, valueInfo('B', [3, 4])),
    fBytes(12, valueInfo('Y', [2, 4])),
  );
  // ModelProto { ir_version(1), producer_name(2), graph(7), opset_import(8): { domain(1), version(2) } }
  return msg(fInt(1, 8), fStr(2, 'eac-webgpu-smoke'), fBytes(7, graph), fBytes(8, msg(fStr(1, ''), fInt(2, 17))));
}

// ---------------------------------------------------------------------------

const icd = process.env.VK_ICD_FILENAMES;
const skipReason = icd
  ? ''
  : 'VK_ICD_FILENAMES is unset: no Vulkan driver configured for the WebGPU EP ' +
    '(run `sudo scripts/setup-system.sh && source scripts/webgpu-env.sh`)';
if (skipReason) console.warn(`[webgpu-smoke] skipped: ${skipReason}`);

describe.skipIf(!icd)(`onnxruntime-node WebGPU EP (Vulkan via lavapipe)${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const A = Float32Array.from([1, 2, 3, 4, 5, 6].map((v) => v * 0.5 - 1.25));
  const B = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1) * 2);
  const C = Float32Array.from([0.1, -0.2, 0.3, -0.4]);
  const model = buildMatMulAddModel(C);

  function reference(): Float32Array {
    const y = new Float32Array(8);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += A[i * 3 + k] * B[k * 4 + j];
        y[i * 4 + j] = s + C[j];
      }
    return y;
  }

  /**
   * graphOptimizationLevel 'disabled' keeps the literal MatMul + Add kernels;
   * the default ('all') fuses them into a single Gemm (MatMulAddFusion).
   */
  async function run(ep: 'cpu' | 'webgpu', opt: 'disabled' | 'all') {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(model, {
      executionProviders: [ep],
      graphOptimizationLevel: opt,
      // session.disable_cpu_ep_fallback=1: session creation fails if any node
      // would be placed on the CPU EP, so 'webgpu' really means WebGPU.
      ...(ep === 'webgpu' ? { extra: { session: { disable_cpu_ep_fallback: '1' } } } : {}),
    });
    const tCreate = performance.now() - t0;
    const feeds = { A: new ort.Tensor('float32', A, [2, 3]), B: new ort.Tensor('float32', B, [3, 4]) };
    const t1 = performance.now();
    const out = await session.run(feeds);
    const tRun1 = performance.now() - t1;
    const t2 = performance.now();
    await session.run(feeds);
    const tRun2 = performance.now() - t2;
    const y = out.Y;
    const data = Float32Array.from(y.data as Float32Array);
    const dims = [...y.dims];
    await session.release();
    console.log(
      `[webgpu-smoke] ${ep.padEnd(6)} opt=${opt.padEnd(8)} create ${tCreate.toFixed(1)} ms, ` +
        `first run ${tRun1.toFixed(1)} ms, second run ${tRun2.toFixed(1)} ms`,
    );
    return { data, dims };
  }

  /**
   * Per element, |fl(Σ_k a_ik b_kj + c_j) − exact| ≤ γ(K + 1)·(Σ_k |a_ik b_kj| + |c_j|) for float32 arithmetic
   * in any order, with or without FMA (Higham's bound): it holds for the CPU EP's kernels on every CPU and for
   * the WGSL shaders (WGSL rounds +, −, × correctly). `reference()` rounds its float64 sum once more (u·|ref|).
   */
  function bounds(): Float64Array {
    const b = new Float64Array(8);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++) {
        let s = Math.abs(C[j]);
        for (let k = 0; k < 3; k++) s += Math.abs(A[i * 3 + k] * B[k * 4 + j]);
        b[i * 4 + j] = gamma(3 + 1) * s;
      }
    return b;
  }

  it('MatMul+Add on webgpu matches cpu within float32 rounding', async () => {
    console.log(`[webgpu-smoke] VK_ICD_FILENAMES=${icd}`);
    const cpu = await run('cpu', 'disabled');
    expect(cpu.dims).toEqual([2, 4]);
    const ref = reference();
    const bound = bounds();
    for (let i = 0; i < 8; i++) expect(Math.abs(cpu.data[i] - ref[i])).toBeLessThanOrEqual(bound[i] + F32_U * Math.abs(ref[i]));

    for (const opt of ['disabled', 'all'] as const) {
      const gpu = await run('webgpu', opt);
      expect(gpu.dims).toEqual([2, 4]);
      const maxDiff = Math.max(...gpu.data.map((v, i) => Math.abs(v - cpu.data[i])));
      console.log(`[webgpu-smoke] opt=${opt}: max |webgpu - cpu| = ${maxDiff.toExponential(2)}`);
      // two float32 routes, each within its bound of the exact value
      for (let i = 0; i < 8; i++) expect(Math.abs(gpu.data[i] - cpu.data[i])).toBeLessThanOrEqual(2 * bound[i]);
    }
  });
});

if (!icd) {
  describe('onnxruntime-node WebGPU EP (Vulkan via lavapipe)', () => {
    it.skip(skipReason, () => {});
  });
}
