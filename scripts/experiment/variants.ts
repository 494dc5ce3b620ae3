// The experiment's variants: profile overrides that edit with another source's reading of an option
// (scripts/experiment.ts lists them; README "Profile schema" names the source of each option).
import type { EditProfile } from '../../src-main/engine/edit';

export const VARIANTS = ['default', 'authors-rome', 'paper', 'previous'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The profile a variant edits with (a copy). */
export function applyVariant(base: EditProfile, variant: Variant): EditProfile {
  const p = structuredClone(base);
  if (variant === 'authors-rome') p.rome.mom2Adjustment = false;
  if (variant === 'paper') {
    // paper §3/§4: score v* ⊙ ∇L after the first half of the steps; |score| ≥ γ with γ the P85
    // (GPT2-XL) / P95 (LLaMA-3) percentile on CounterFact; retrain the anchors for the rest of the
    // steps under λΣα|z| + μ‖z‖² (λ 5e-7; μ 0.5 GPT2-XL, 1e-3 LLaMA-3)
    const pct = p.arch === 'gpt2' ? 85 : 95;
    p.eac.saliency = 'value';
    p.eac.stage1Floor = 'none';
    p.eac.lambda = 5e-7;
    p.eac.mu = p.arch === 'gpt2' ? 0.5 : 1e-3;
    for (const m of ['rome', 'memit'] as const) {
      p.eac.scoreStep = Math.max(1, Math.floor(p[m].vSteps / 2));
      p.eac[m] = { anchors: { mode: 'percentile', value: pct }, elasticNet: 'paper', retrainSteps: p[m].vSteps - p.eac.scoreStep, retrainFrom: 'stage1', retrainAdam: 'continue', minAnchors: p.eac[m].minAnchors, retrainKlReference: 'original' };
    }
  }
  if (variant === 'previous') {
    // the fixture profiles before issue 10 (commit 1a1c81f): weight decay 0.1·‖z‖²/‖v‖², KL(original‖edited)
    // at the last token, plain key mean, score z ⊙ ∇L at step 15, P80 for both methods, μ 0.05 scaled by ‖v‖²
    for (const m of ['rome', 'memit'] as const) {
      Object.assign(p[m], { weightDecay: 0.1, weightDecayForm: 'squared', klDirection: 'original-edited', klPosition: 'last' });
    }
    p.memit.keyWeighting = 'mean';
    p.rome.mom2Adjustment = true;
    Object.assign(p.eac, { saliency: 'step', scoreStep: 15, stage1Floor: 'none', lambda: 5e-7, mu: 0.05, eps: 1e-8 });
    for (const m of ['rome', 'memit'] as const) {
      p.eac[m] = { anchors: { mode: 'percentile', value: 80 }, elasticNet: 'previous', retrainSteps: p[m].vSteps - 1 - 15, retrainFrom: 'stage1', retrainAdam: 'continue', minAnchors: 0, retrainKlReference: 'original' };
    }
  }
  if (variant === 'paper' || variant === 'previous') {
    // NAS's norm control is neither the paper's EAC nor the profiles' before issue 10
    p.normControl = 'off';
    delete p.normControlMethods;
  }
  p.name = variant === 'default' ? p.name : `${p.name}+${variant}`;
  return p;
}
