// Profile loading: every option introduced for issue 10 is validated with an error naming the field,
// missing options take the published code's defaults, and profiles written before keep their meaning.
import { describe, expect, it } from 'vitest';
import { bundledProfiles, loadProfile, parseProfile } from '../../src-main/engine/edit/profile';

const base = () => structuredClone(loadProfile('gpt2-world-a')) as unknown as Record<string, any>;

describe('profile validation', () => {
  it('every bundled profile loads', () => {
    for (const n of bundledProfiles()) expect(() => loadProfile(n)).not.toThrow();
    expect(bundledProfiles()).toEqual(expect.arrayContaining(['gpt2-xl', 'gpt2-xl-paper', 'gpt2-xl-authors', 'llama3-8b', 'llama3-8b-paper', 'llama3-8b-authors']));
  });

  const bad: [string, (p: Record<string, any>) => void, RegExp][] = [
    ['rome.weightDecayForm', (p) => (p.rome.weightDecayForm = 'cubic'), /rome\.weightDecayForm must be one of "norm", "squared", got "cubic"/],
    ['memit.klDirection', (p) => (p.memit.klDirection = 'both'), /memit\.klDirection must be one of/],
    ['rome.klPosition', (p) => (p.rome.klPosition = 0), /rome\.klPosition must be one of "subject-last", "last"/],
    ['rome.mom2Adjustment', (p) => (p.rome.mom2Adjustment = 'no'), /rome\.mom2Adjustment must be one of true, false/],
    ['memit.keyWeighting', (p) => (p.memit.keyWeighting = 'median'), /memit\.keyWeighting must be one of/],
    ['eac.saliency', (p) => (p.eac.saliency = 'delta'), /eac\.saliency must be one of "mean-grad", "step", "value", got "delta"/],
    ['eac.scoreStep', (p) => (p.eac.scoreStep = 0), /eac\.scoreStep must be an integer ≥ 1/],
    ['eac.eps', (p) => (p.eac.eps = 0), /eac\.eps must be > 0/],
    ['eac.rome.anchors.mode', (p) => (p.eac.rome.anchors.mode = 'top'), /eac\.rome\.anchors\.mode must be one of "percentile", "top_fraction"/],
    ['eac.memit.anchors.value', (p) => (p.eac.memit.anchors.value = 5), /eac\.memit\.anchors\.value 5 out of range for top_fraction/],
    ['eac.rome.anchors.value (percentile)', (p) => (p.eac.rome.anchors = { mode: 'percentile', value: 100 }), /eac\.rome\.anchors\.value 100 out of range for percentile/],
    ['eac.memit.elasticNet', (p) => (p.eac.memit.elasticNet = true), /eac\.memit\.elasticNet must be one of "off", "scored-l1", "paper", "previous", got true/],
    ['eac.rome.retrainSteps', (p) => (p.eac.rome.retrainSteps = 2.5), /eac\.rome\.retrainSteps must be an integer ≥ 0/],
    ['eac.memit.retrainFrom', (p) => (p.eac.memit.retrainFrom = 'start'), /eac\.memit\.retrainFrom must be one of "stage1", "zero"/],
    ['eac.rome.retrainAdam', (p) => (p.eac.rome.retrainAdam = 'new'), /eac\.rome\.retrainAdam must be one of "fresh", "continue"/],
    ['eac.rome (not an object)', (p) => (p.eac.rome = 3), /eac\.rome must be an object/],
    ['normControl', (p) => (p.normControl = 'anchor'), /normControl must be one of "off", "nas", "nas-anchor", got "anchor"/],
    ['normAnchor.memit', (p) => (p.normAnchor = { memit: -2 }), /normAnchor\.memit must be a positive number/],
    ['normAnchor (not an object)', (p) => (p.normAnchor = 58), /normAnchor must be an object \{ rome\?, memit\? \}/],
    ['normControlMethods (an FT method)', (p) => ((p.normControl = 'nas'), (p.normControlMethods = ['eac-memit', 'ft'])), /normControlMethods\[\] must be one of "rome", "memit", "eac-rome", "eac-memit", "alphaedit", "eac-alphaedit", got "ft"/],
    ['normControlMethods (empty)', (p) => ((p.normControl = 'nas'), (p.normControlMethods = [])), /normControlMethods must be a non-empty list of z methods/],
    ['normControlMethods (not a list)', (p) => ((p.normControl = 'nas'), (p.normControlMethods = 'eac-memit')), /normControlMethods must be a non-empty list of z methods/],
    ['normControlMethods (twice)', (p) => ((p.normControl = 'nas'), (p.normControlMethods = ['memit', 'memit'])), /normControlMethods lists a method twice/],
    ['normControlMethods (norm control off)', (p) => ((p.normControl = 'off'), (p.normControlMethods = ['memit'])), /normControlMethods is set but normControl is "off"/],
  ];
  for (const [field, mutate, msg] of bad)
    it(`rejects a bad ${field} with an error naming it`, () => {
      const p = base();
      mutate(p);
      expect(() => parseProfile(p, 'my.json')).toThrow(msg);
      expect(() => parseProfile(p, 'my.json')).toThrow(/^profile my\.json: /);
    });

  it('fills missing options with the published code\'s defaults (and leaves the input alone)', () => {
    const p = base();
    for (const k of ['weightDecayForm', 'klDirection', 'klPosition', 'mom2Adjustment']) delete p.rome[k];
    delete p.memit.keyWeighting;
    p.eac = { lambda: 5e-7 };
    const q = parseProfile(p);
    expect(q.rome).toMatchObject({ weightDecayForm: 'norm', klDirection: 'edited-original', klPosition: 'subject-last', mom2Adjustment: true });
    expect(q.memit.keyWeighting).toBe('context-type');
    expect(q.eac).toMatchObject({ saliency: 'mean-grad', scoreStep: 10, eps: 1e-6 });
    expect(q.eac.rome).toEqual({ anchors: { mode: 'top_fraction', value: 0.2 }, elasticNet: 'off', retrainSteps: 10, retrainFrom: 'stage1', retrainAdam: 'fresh', minAnchors: 80, retrainKlReference: 'retrain-start' });
    expect(q.eac.memit).toEqual({ anchors: { mode: 'top_fraction', value: 0.05 }, elasticNet: 'scored-l1', retrainSteps: 15, retrainFrom: 'zero', retrainAdam: 'fresh', minAnchors: 80, retrainKlReference: 'retrain-start' });
    expect(p.eac).toEqual({ lambda: 5e-7 });
  });

  it('a profile written before these options (eac.threshold) keeps its earlier behaviour', () => {
    const old = {
      name: 'old',
      arch: 'gpt2',
      contextTemplates: { rome: [[5, 10]], memit: [[10, 5]], seed: 42 },
      stats: { samples: 100 },
      rome: { layer: 2, vLr: 0.5, vSteps: 30, klFactor: 0.0625, weightDecay: 0.1, clampNormFactor: 4, mom2Ridge: 0 },
      memit: { layers: [1, 2], vLr: 0.5, vSteps: 20, klFactor: 0.0625, weightDecay: 0.1, clampNormFactor: 4, mom2UpdateWeight: 2000 },
      eac: { saliency: 'delta', scoreStep: 15, threshold: { mode: 'percentile', value: 80 }, elasticNet: true, lambda: 5e-7, mu: 0.05, eps: 1e-8 },
      ft: { layer: 2, lr: 0.001, steps: 30, normConstraint: 0.005, klFactor: 0, enLambda: 5e-7, enMu: 0.5 },
    };
    const q = parseProfile(old);
    expect(q.rome).toMatchObject({ weightDecayForm: 'squared', klDirection: 'original-edited', klPosition: 'last', mom2Adjustment: true });
    expect(q.memit.keyWeighting).toBe('mean');
    expect(q.eac.saliency).toBe('step');
    expect(q.eac.rome).toEqual({ anchors: { mode: 'percentile', value: 80 }, elasticNet: 'previous', retrainSteps: 14, retrainFrom: 'stage1', retrainAdam: 'continue', minAnchors: 0, retrainKlReference: 'original' });
    expect(q.eac.stage1Floor).toBe('none');
    expect(q.eac.memit.retrainSteps).toBe(4);
    expect('threshold' in q.eac).toBe(false);
    const off = parseProfile({ ...old, eac: { ...old.eac, elasticNet: false } });
    expect(off.eac.rome.elasticNet).toBe('off');
  });
});
