// The experiment's command line turned into what one run needs (scripts/experiment.ts), kept apart from
// the script so that the flags' effect on the profile, its name and the output file is tested without
// running an experiment.
import fs from 'node:fs';
import path from 'node:path';
import { EDIT_METHODS, loadProfile, type EditMethod, type EditProfile } from '../../src-main/engine/edit';
import type { NormControl } from '../../src-main/engine/edit/profile';
import { EacError } from '../../src-main/engine/errors';
import { fixturesDir, packageRoot } from '../../src-main/engine/paths';
import { applyVariant, VARIANTS, type Variant } from './variants';

export const NORM_CONTROLS: readonly NormControl[] = ['off', 'nas', 'nas-anchor'];

export interface ExperimentSetup {
  modelDir: string;
  modelName: string;
  /** the profile with the variant and --norm-control applied */
  profile: EditProfile;
  variant: Variant;
  methods: EditMethod[];
  edits: number;
  checkpoints: number[];
  batchSize: number;
  factsFile: string;
  evalN: number;
  out: string;
}

/**
 * `--norm-control off|nas|nas-anchor` over the profile's own `normControl`, and `--norm-anchor
 * memit=X[,rome=Y]` over its `normAnchor` (NAS's anchor norms, scripts/nas-anchor.ts). A run that
 * changes the setting is another setting than the bundled profile's, so the profile's name gets
 * `+norm-<value>` (the name is what the JSON and the README table header show) and the default output
 * file `-norm-<value>`; a flag that repeats the profile's own setting changes nothing. The flag's
 * setting acts on every method of the run: it drops a profile's `normControlMethods`.
 */
export function applyNormControl(base: EditProfile, normControl: string | undefined, normAnchor?: string): EditProfile {
  if (normControl === undefined && normAnchor === undefined) return base;
  if (normControl !== undefined && !NORM_CONTROLS.includes(normControl as NormControl))
    throw new EacError('usage', `--norm-control must be one of ${NORM_CONTROLS.join(', ')} (got "${normControl}")`);
  const anchor = normAnchor === undefined ? undefined : parseNormAnchor(normAnchor);
  const nc = (normControl ?? base.normControl ?? 'off') as NormControl;
  if (nc === 'nas-anchor' && !anchor && !base.normAnchor)
    throw new EacError('usage', '--norm-control nas-anchor needs the anchor norm: --norm-anchor memit=X (measure X with `npm run nas-anchor -- --model <model> --method memit`)');
  if (anchor && nc !== 'nas-anchor') throw new EacError('usage', '--norm-anchor is only used with --norm-control nas-anchor');
  // a profile that scopes its norm control to some methods is another setting than the flag's, which covers every method
  const same = nc === (base.normControl ?? 'off') && (!anchor || JSON.stringify(anchor) === JSON.stringify(base.normAnchor)) && base.normControlMethods === undefined;
  if (same) return base;
  const p = structuredClone(base);
  p.normControl = nc;
  if (anchor) p.normAnchor = anchor;
  // the flag's setting is the run's, for every method it edits
  delete p.normControlMethods;
  p.name = `${p.name}+norm-${nc}`;
  return p;
}

/** `memit=61.2,rome=40` → { memit: 61.2, rome: 40 }; EacError 'usage' on anything else. */
export function parseNormAnchor(spec: string): { rome?: number; memit?: number } {
  const out: { rome?: number; memit?: number } = {};
  for (const part of spec.split(',')) {
    const m = /^(rome|memit)=([0-9.eE+-]+)$/.exec(part.trim());
    const v = m ? Number(m[2]) : NaN;
    if (!m || !(v > 0) || !Number.isFinite(v)) throw new EacError('usage', `--norm-anchor: "${part}" is not rome=<norm> or memit=<norm> with a positive norm`);
    out[m[1] as 'rome' | 'memit'] = v;
  }
  return out;
}

/** `--model`: a fixture's name (tests/fixtures) or a model folder. */
export function modelDirOf(arg: string): string {
  return fs.existsSync(path.join(fixturesDir(), arg)) ? path.join(fixturesDir(), arg) : path.resolve(arg);
}

/** The parsed flags (node:util parseArgs values) → the run's settings; throws EacError 'usage' on a bad flag. */
export function experimentSetup(values: Record<string, string | boolean | undefined>): ExperimentSetup {
  const root = packageRoot();
  const modelDir = modelDirOf(String(values.model ?? 'gpt2-world-a'));
  const modelName = path.basename(modelDir);
  const variant = String(values.variant ?? 'default') as Variant;
  if (!VARIANTS.includes(variant)) throw new EacError('usage', `--variant must be one of ${VARIANTS.join(', ')}`);
  const base = loadProfile(String(values.profile ?? modelName));
  const str = (k: string) => (values[k] === undefined ? undefined : String(values[k]));
  const varied = applyVariant(base, variant);
  const profile = applyNormControl(varied, str('norm-control'), str('norm-anchor'));
  const edits = Number(values.edits ?? 100);
  if (!Number.isInteger(edits) || edits < 1) throw new EacError('usage', '--edits must be a positive integer');
  const methods = String(values.methods ?? 'rome,eac-rome,memit,eac-memit,alphaedit,eac-alphaedit').split(',') as EditMethod[];
  const unknown = methods.filter((m) => !EDIT_METHODS.includes(m));
  if (unknown.length) throw new EacError('usage', `--methods: unknown ${unknown.join(', ')} (known: ${EDIT_METHODS.join(', ')})`);
  const batchSize = Math.max(1, Number(values['batch-size'] ?? 1));
  if (!Number.isInteger(batchSize)) throw new EacError('usage', '--batch-size must be a positive integer');
  // applyNormControl hands back the profile itself when the flags repeat its own setting
  const normTag = profile !== varied ? `-norm-${profile.normControl}` : '';
  return {
    modelDir,
    modelName,
    profile,
    variant,
    methods,
    edits,
    checkpoints: String(values.checkpoints ?? '100,300').split(',').map(Number),
    batchSize,
    factsFile: String(values.facts ?? path.join(fixturesDir(), 'world-a', 'edits.json')),
    evalN: Number(values['eval-n'] ?? 100),
    out: String(values.out ?? path.join(root, 'experiments', `${modelName}-${variant}${normTag}-${edits}.json`)),
  };
}
