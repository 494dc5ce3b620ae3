// Left-padded batches give the same answers as one prompt at a time.
import { afterAll, describe, expect, it } from 'vitest';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURE_NAMES, findFixture, fixtureMissingReason, maxAbsDiff, report } from './helpers';
import { f32Bound, forwardDepth, maxAbs } from '../tolerance';

for (const name of FIXTURE_NAMES) {
  const fx = findFixture(name);
  describe.skipIf(!fx)(`${name} batching${fx ? '' : ` (skipped: ${fixtureMissingReason(name)})`}`, () => {
    const model = fx ? LoadedModel.open(fx.dir) : (null as unknown as LoadedModel);
    afterAll(() => model?.release());
    // ragged lengths on purpose, including the BOS-only empty prompt
    const prompts = () => [...fx!.cases.map((c) => c.prompt), 'A', ''];

    it('batched greedy generation with left padding equals unbatched', async () => {
      const rows = prompts().map((p) => model.encode(p));
      expect(new Set(rows.map((r) => r.length)).size).toBeGreaterThan(2);
      for (const stopIds of [[], undefined]) {
        const batched = await model.generate(rows, 16, { stopIds });
        for (let b = 0; b < rows.length; b++) {
          const [single] = await model.generate([rows[b]], 16, { stopIds });
          expect(batched[b]).toEqual(single);
        }
      }
    });

    it('batched last logits equal unbatched within float32 rounding', async () => {
      const rows = prompts().map((p) => model.encode(p));
      const batched = await model.lastLogits(rows);
      // the padded length: masked positions add exact zeros to the softmax and value sums, but count them
      const T = Math.max(...rows.map((r) => r.length));
      let worst = 0;
      let worstRatio = 0;
      for (let b = 0; b < rows.length; b++) {
        const [single] = await model.lastLogits([rows[b]]);
        // two float32 routes to the same logits (other GEMM shapes, so other kernels and blockings): each within
        // the forward-pass bound of the exact value (tests/tolerance.ts)
        const bound = f32Bound(maxAbs(single), forwardDepth(model.cfg, T), 2);
        expect(maxAbsDiff(batched[b], single)).toBeLessThan(bound);
        worst = Math.max(worst, maxAbsDiff(batched[b], single));
        worstRatio = Math.max(worstRatio, maxAbsDiff(batched[b], single) / bound);
      }
      report(`${name} batched vs single logits`, worst);
      report(`${name} batched vs single logits / derived bound`, worstRatio);
    });
  });
}
