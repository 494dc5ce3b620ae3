// The fixtures on the WebGPU EP (Dawn -> Vulkan; Mesa lavapipe on GPU-less CI) match the CPU EP.
// Needs `source scripts/webgpu-env.sh` (after `sudo scripts/setup-system.sh`); skipped otherwise.
// Logits: two float32 routes (WGSL shaders, CPU kernels) within the derived bound of tests/tolerance.ts, with
// the WGSL accuracy of the elementwise functions: exp is within 3 + 2|x| ULP, which after softmax's max
// subtraction is at most 3 ulp of the largest term (the error (3 + 2|x|)·e^x·u peaks at x = 0); tanh is
// inherited from sinh / cosh, i.e. from exp of ±x, about 2·(3 + 2|x|) ulp absolute for GELU's arguments
// (|x| ≲ 2); inverseSqrt 2 ULP. Counted as 16 ulp per elementwise rounding.
import { afterAll, describe, expect, it } from 'vitest';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURE_NAMES, findFixture, fixtureMissingReason, maxAbsDiff, report } from './helpers';
import { f32Bound, forwardDepth, maxAbs } from '../tolerance';

/** ulp accuracy of the WGSL elementwise functions charged per rounding (see the header) */
const WGSL_ULPS = 16;

const icd = process.env.VK_ICD_FILENAMES;
const noGpuReason = 'VK_ICD_FILENAMES is unset: no Vulkan driver for the WebGPU EP (run `sudo scripts/setup-system.sh && source scripts/webgpu-env.sh`)';
if (!icd) console.warn(`[webgpu] skipped: ${noGpuReason}`);

for (const name of FIXTURE_NAMES) {
  const fx = findFixture(name);
  const reason = !icd ? noGpuReason : !fx ? fixtureMissingReason(name) : '';
  describe.skipIf(!!reason)(`${name} on the WebGPU EP${reason ? ` (skipped: ${reason})` : ''}`, () => {
    const gpu = reason ? (null as unknown as LoadedModel) : LoadedModel.open(fx!.dir, { device: 'webgpu' });
    const cpu = reason ? (null as unknown as LoadedModel) : LoadedModel.open(fx!.dir, { device: 'cpu' });
    afterAll(async () => {
      await gpu?.release();
      await cpu?.release();
    });

    it('last logits within float32 rounding of CPU and identical greedy tokens', async () => {
      const rows = fx!.cases.map((c) => c.ids);
      const g = await gpu.lastLogits(rows);
      expect(gpu.deviceReport).toEqual({ requested: 'webgpu', used: 'webgpu' });
      const c = await cpu.lastLogits(rows);
      let worst = 0;
      let worstRatio = 0;
      // rows are padded to the longest: count its length in the softmax and value sums
      const T = Math.max(...rows.map((r) => r.length));
      for (let b = 0; b < rows.length; b++) {
        const bound = f32Bound(maxAbs(c[b]), forwardDepth(cpu.cfg, T, 'logits', WGSL_ULPS), 2);
        expect(maxAbsDiff(g[b], c[b])).toBeLessThan(bound);
        worst = Math.max(worst, maxAbsDiff(g[b], c[b]));
        worstRatio = Math.max(worstRatio, maxAbsDiff(g[b], c[b]) / bound);
      }
      report(`${name} max |webgpu - cpu| logits`, worst);
      report(`${name} max |webgpu - cpu| logits / derived bound`, worstRatio);
      const genRows = rows.slice(0, 2);
      const genG = await gpu.generate(genRows, 6, { stopIds: [] });
      expect(gpu.deviceReport.used).toBe('webgpu');
      expect(genG).toEqual(await cpu.generate(genRows, 6, { stopIds: [] }));
    });
  });
}
if (!icd) {
  describe('fixtures on the WebGPU EP', () => {
    it.skip(noGpuReason, () => {});
  });
}
