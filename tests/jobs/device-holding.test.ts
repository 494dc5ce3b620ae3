// devices.list tells what the open model holds on its GPU (issue 17, item 7): nothing before the first
// session, then the weights uploaded (bytes, tensors, conversions); null on the CPU. The WebGPU part
// runs on lavapipe and is skipped, with the reason in its title, without a Vulkan driver.
import { afterAll, describe, expect, it } from 'vitest';
import '../../src-main/jobs/studio';
import { GPT2, tmpDir, studioEngine } from './helpers';
import { providerLibraryInstalled } from '../../src-main/engine/runtime/session';

const noGpuReason = process.env.VK_ICD_FILENAMES ? '' : 'VK_ICD_FILENAMES is unset: no Vulkan driver for the WebGPU EP';

describe('devices.list: what the model holds on its device', () => {
  const studio = studioEngine(tmpDir('eac-holding-'));
  afterAll(() => studio.close());

  it('lists CUDA as available only when its provider library is installed, else with the install command', async () => {
    const r = await studio.engine.call('devices.list', {});
    const cuda = r.devices.find((d) => d.name === 'cuda')!;
    expect(cuda.available).toBe(providerLibraryInstalled('cuda'));
    if (!cuda.available) expect(cuda.reason).toContain('--onnxruntime-node-install=cuda12');
    expect(r.devices.find((d) => d.name === 'cpu')!.available).toBe(true);
  });

  it('is null for a model on the CPU', async () => {
    await studio.engine.call('workspace.open', { modelDir: GPT2, device: 'cpu' });
    const r = await studio.engine.call('devices.list', {});
    expect(r.current).toBe('cpu');
    expect(r.holding).toBeNull();
    await studio.engine.call('workspace.close', {});
  });

  it.skipIf(!!noGpuReason)(`on WebGPU: nothing before the first session, then every weight the decoding graph uses${noGpuReason ? ` (skipped: ${noGpuReason})` : ''}`, async () => {
    await studio.engine.call('workspace.open', { modelDir: GPT2, device: 'webgpu' });
    const before = await studio.engine.call('devices.list', {});
    expect(before.current).toBe('webgpu');
    expect(before.holding).toMatchObject({ device: 'webgpu', tensors: 0, bytes: 0 });
    expect(before.holding!.modelBytes).toBeGreaterThan(0);
    await studio.engine.call('generate', { prompts: ['The capital of'], maxNewTokens: 2 });
    const after = await studio.engine.call('devices.list', {});
    expect(after.holding!.tensors).toBeGreaterThan(0);
    expect(after.holding!.bytes).toBeGreaterThan(0);
    // GPT-2 is F32: held as f32, nothing converted; never more than the model's weights
    expect(after.holding!.bytes).toBeLessThanOrEqual(after.holding!.modelBytes);
    expect(after.holding!.conversions).toEqual({});
    await studio.engine.call('workspace.close', {});
  });
});
