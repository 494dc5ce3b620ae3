// The scale bench's arithmetic: the roofline's FLOP count and the step cap it reports. Both are
// printed as results, so a wrong count or a cap that does not bound the steps would mislead.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src-main/engine/checkpoint';
import { loadProfile } from '../../src-main/engine/edit';
import { capSteps, checkpointDirFor, layerForwardFlops, stepFlops } from '../../scripts/bench-scale';
import { shapeSpec } from '../../scripts/make-shape-checkpoint';

/** Weights one decoder layer multiplies by (matrices of layer 0 in the real checkpoint's tensor list). */
function layerMatmulParams(arch: 'gpt2-xl' | 'llama3-8b'): number {
  const re = arch === 'gpt2-xl' ? /^h\.0\.(attn|mlp)\.c_\w+\.weight$/ : /^model\.layers\.0\.(self_attn|mlp)\.\w+_proj\.weight$/;
  return shapeSpec(arch, 1)
    .tensors.filter((t) => re.test(t.name))
    .reduce((a, t) => a + t.shape[0] * t.shape[1], 0);
}

describe('scale bench FLOP count', () => {
  for (const arch of ['gpt2-xl', 'llama3-8b'] as const) {
    it(`${arch}: a layer's forward matmul FLOPs per token are 2 × its matrix parameters (GQA included) plus attention`, () => {
      const cfg = parseConfig(shapeSpec(arch).config);
      const T = 20;
      const attn = 4 * T * cfg.heads * cfg.headDim;
      expect(layerForwardFlops(cfg, 3, T)).toBe(3 * T * (2 * layerMatmulParams(arch) + attn));
    });
  }

  it('a step is forward + backward through the layers above the edit layer plus the head at the needed positions', () => {
    const cfg = parseConfig(shapeSpec('gpt2-xl').config);
    const shape = { rows: 22, tokens: 30, headPositions: 43 };
    const head = 2 * 43 * cfg.hidden * cfg.vocabSize;
    expect(stepFlops(cfg, 17, shape)).toBe(2 * (30 * layerForwardFlops(cfg, 22, 30) + head));
    // editing the last layer leaves only the head
    expect(stepFlops(cfg, 47, shape)).toBe(2 * head);
  });
});

describe('scale bench step cap', () => {
  it('caps ROME at vSteps and EAC-ROME at stage 1 + retraining, and says when it did', () => {
    const p = loadProfile('gpt2-xl');
    const full = p.rome.vSteps;
    expect(capSteps(loadProfile('gpt2-xl'), 'rome', undefined)).toEqual({ steps: full, capped: false });
    expect(capSteps(loadProfile('gpt2-xl'), 'rome', full + 5)).toEqual({ steps: full, capped: false });
    const r = loadProfile('gpt2-xl');
    expect(capSteps(r, 'rome', 3)).toEqual({ steps: 3, capped: true });
    expect(r.rome.vSteps).toBe(3);
    const e = loadProfile('gpt2-xl');
    expect(capSteps(e, 'eac-rome', 4)).toEqual({ steps: 4, capped: true });
    expect(e.eac.scoreStep + e.eac.rome.retrainSteps).toBe(4);
    expect(e.eac.scoreStep).toBeGreaterThan(0);
  });

  it('keeps checkpoints of a layer-count override apart from the full ones', () => {
    expect(checkpointDirFor('/x', 'gpt2-xl')).toBe('/x/gpt2-xl');
    expect(checkpointDirFor('/x', 'llama3-8b', 2)).toBe('/x/llama3-8b-2l');
  });
});
