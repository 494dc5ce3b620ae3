// Fixture parity through LoadedModel: ids, last-position logits, 20 greedy tokens (no early stop),
// and the MLP key / output taps at the reference layer, against the float64 reference.json.
// Float bounds: one float32 route against a float64 reference, derived from the depth of the forward
// pass and the size of the compared values (tests/tolerance.ts), so they hold whatever kernels the CPU gets.
import { afterAll, describe, expect, it } from 'vitest';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURE_NAMES, findFixture, fixtureMissingReason, maxAbsDiff, report } from './helpers';
import { f32Bound, forwardDepth, maxAbs } from '../tolerance';

for (const name of FIXTURE_NAMES) {
  const fx = findFixture(name);
  describe.skipIf(!fx)(`${name} parity${fx ? '' : ` (skipped: ${fixtureMissingReason(name)})`}`, () => {
    const model = fx ? LoadedModel.open(fx.dir) : (null as unknown as LoadedModel);
    afterAll(() => model?.release());
    const cases = fx?.cases ?? [];

    it('tokenises the reference prompts to the reference ids', () => {
      for (const c of cases) expect(model.encode(c.prompt)).toEqual(c.ids);
    });

    /** the float32 forward-pass bound on the last logits of case c (one route: the reference is float64) */
    const logitBound = (c: (typeof cases)[number]) => f32Bound(maxAbs(c.last_logits), forwardDepth(model.cfg, c.ids.length), 1);

    it('last-position logits within the float32 forward-pass bound of the float64 reference', async () => {
      let worst = 0;
      let worstRatio = 0;
      for (const c of cases) {
        const [lg] = await model.lastLogits([c.ids]);
        worst = Math.max(worst, maxAbsDiff(lg, c.last_logits));
        worstRatio = Math.max(worstRatio, maxAbsDiff(lg, c.last_logits) / logitBound(c));
        expect(maxAbsDiff(lg, c.last_logits)).toBeLessThan(logitBound(c));
        const top5 = Array.from(lg.keys()).sort((a, b) => lg[b] - lg[a]).slice(0, 5);
        expect(top5).toEqual(c.top5);
        // the ranking is a claim any CPU must reproduce only if the reference's gaps between the top six
        // exceed twice the bound (each logit can move by the bound): a property of the fixture, checked here
        const ref = [...c.last_logits].sort((a, b) => b - a).slice(0, 6);
        for (let k = 0; k < 5; k++) expect(ref[k] - ref[k + 1], `gap ${k + 1}/${k + 2} of "${c.prompt}"`).toBeGreaterThan(2 * logitBound(c));
      }
      report(`${name} max |logit - ref|`, worst);
      report(`${name} max |logit - ref| / derived bound`, worstRatio);
    });

    it('the low-memory mode (no prepacked weights) gives the same logits', async () => {
      const lean = LoadedModel.open(fx!.dir, { prepack: false });
      expect(lean.prepack).toBe(false);
      expect(model.prepack).toBe(true);
      for (const c of cases) {
        const [a] = await lean.lastLogits([c.ids]);
        expect(maxAbsDiff(a, c.last_logits)).toBeLessThan(logitBound(c));
      }
      await lean.release();
    });

    it('greedy 20 tokens identical (no early stop)', async () => {
      for (const c of cases) {
        const [gen] = await model.generate([c.ids], 20, { stopIds: [] });
        expect(gen).toEqual(c.greedy20);
      }
    });

    it('MLP key and output taps at the reference layer within the float32 bound of the reference', async () => {
      let worstKey = 0;
      let worstOut = 0;
      let worstRatio = 0;
      for (const c of cases) {
        const l = c.layer;
        const { out } = await model.run([c.ids], { logits: 'none', tapKeys: [l], tapMlpOut: [l] });
        const key = out[`key_${l}`];
        const mlp = out[`mlp_out_${l}`];
        const T = c.ids.length;
        expect(key.dims).toEqual([1, T, model.cfg.ffn]);
        expect(mlp.dims).toEqual([1, T, model.cfg.hidden]);
        const kLast = (key.data as Float32Array).subarray((T - 1) * model.cfg.ffn);
        const oLast = (mlp.data as Float32Array).subarray((T - 1) * model.cfg.hidden);
        worstKey = Math.max(worstKey, maxAbsDiff(kLast, c.mlp_key_last));
        worstOut = Math.max(worstOut, maxAbsDiff(oLast, c.mlp_out_last));
        // the taps' own depth: layers below l, then layer l up to the key / through the down projection
        const keyBound = f32Bound(maxAbs(c.mlp_key_last), forwardDepth(model.cfg, T, { layer: l, tap: 'key' }), 1);
        const outBound = f32Bound(maxAbs(c.mlp_out_last), forwardDepth(model.cfg, T, { layer: l, tap: 'mlp_out' }), 1);
        expect(maxAbsDiff(kLast, c.mlp_key_last)).toBeLessThan(keyBound);
        expect(maxAbsDiff(oLast, c.mlp_out_last)).toBeLessThan(outBound);
        worstRatio = Math.max(worstRatio, maxAbsDiff(kLast, c.mlp_key_last) / keyBound, maxAbsDiff(oLast, c.mlp_out_last) / outBound);
      }
      report(`${name} max |mlp key - ref|`, worstKey);
      report(`${name} max |mlp out - ref|`, worstOut);
      report(`${name} max |mlp tap - ref| / derived bound`, worstRatio);
    });
  });
}
