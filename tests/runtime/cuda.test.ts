// The CUDA provider under the device memory model (README "How memory is used on a GPU"): weights kept
// in the file dtype as initializers, one weight-holding session resident on the device at a time.
// onnxruntime-node's CUDA provider cannot be downloaded on our build machines; this runs wherever a
// user installed it (`node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12`)
// and is counted as skipped otherwise, with the reason in its title.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { availableDevices } from '../../src-main/engine/runtime/session';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURES } from '../shared';

const hasCuda = availableDevices().some((d) => d.device === 'cuda');
const reason = hasCuda ? '' : 'the onnxruntime-node CUDA provider is not installed on this machine';

describe.skipIf(!hasCuda)(`CUDA: weights once on the device${reason ? ` (skipped: ${reason})` : ''}`, () => {
  for (const fixture of ['gpt2-world-a', 'llama-world-a']) {
    it(`${fixture}: same tokens as the CPU, and only one weight-holding session resident at a time`, async () => {
      const dir = path.join(FIXTURES, fixture);
      const gpu = LoadedModel.open(dir, { device: 'cuda' });
      const cpu = LoadedModel.open(dir, { device: 'cpu' });
      try {
        const report = await gpu.checkDevice();
        expect(report.used, report.fallbackReason).toBe('cuda');
        const rows = [gpu.encode('The capital of')];
        expect(await gpu.generate(rows, 6, { stopIds: [] })).toEqual(await cpu.generate(rows, 6, { stopIds: [] }));
        expect(gpu.exclusiveSessions()).toBe(true);
        // a second graph (taps): building it releases the decoding session first
        await gpu.run([rows[0]], { logits: 'none', tapKeys: [1] });
        expect(gpu.sessionStats().live).toBe(1);
        expect(gpu.sessionStats().known).toBeGreaterThanOrEqual(2);
      } finally {
        await gpu.release();
        await cpu.release();
      }
    });
  }
});
