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

export const NORM_CONTROLS: readonly NormControl[] = ['off', 'nas'];

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
 * `--norm-control off|nas` over the profile's own `normControl`. A run that changes it is another
 * setting than the bundled profile's, so the profile's name gets `+norm-<value>` (the name is what the
 * JSON and the README table header show) and the default output file `-norm-<value>`; a flag that
 * repeats the profile's own setting changes nothing.
 */
export function applyNormControl(base: EditProfile, normControl: string | undefined): EditProfile {
  if (normControl === undefined) return base;
  if (!NORM_CONTROLS.includes(normControl as NormControl))
    throw new EacError('usage', `--norm-control must be one of ${NORM_CONTROLS.join(', ')} (got "${normControl}")`);
  if ((base.normControl ?? 'off') === normControl) return base;
  const p = structuredClone(base);
  p.normControl = normControl as NormControl;
  p.name = `${p.name}+norm-${normControl}`;
  return p;
}

/** The parsed flags (node:util parseArgs values) → the run's settings; throws EacError 'usage' on a bad flag. */
export function experimentSetup(values: Record<string, string | boolean | undefined>): ExperimentSetup {
  const root = packageRoot();
  const modelArg = String(values.model ?? 'gpt2-world-a');
  const modelDir = fs.existsSync(path.join(fixturesDir(), modelArg)) ? path.join(fixturesDir(), modelArg) : path.resolve(modelArg);
  const modelName = path.basename(modelDir);
  const variant = String(values.variant ?? 'default') as Variant;
  if (!VARIANTS.includes(variant)) throw new EacError('usage', `--variant must be one of ${VARIANTS.join(', ')}`);
  const base = loadProfile(String(values.profile ?? modelName));
  const normFlag = values['norm-control'] === undefined ? undefined : String(values['norm-control']);
  const profile = applyNormControl(applyVariant(base, variant), normFlag);
  const edits = Number(values.edits ?? 100);
  if (!Number.isInteger(edits) || edits < 1) throw new EacError('usage', '--edits must be a positive integer');
  const methods = String(values.methods ?? 'rome,eac-rome,memit,eac-memit,alphaedit,eac-alphaedit').split(',') as EditMethod[];
  const unknown = methods.filter((m) => !EDIT_METHODS.includes(m));
  if (unknown.length) throw new EacError('usage', `--methods: unknown ${unknown.join(', ')} (known: ${EDIT_METHODS.join(', ')})`);
  const batchSize = Math.max(1, Number(values['batch-size'] ?? 1));
  if (!Number.isInteger(batchSize)) throw new EacError('usage', '--batch-size must be a positive integer');
  const normTag = (profile.normControl ?? 'off') !== (base.normControl ?? 'off') ? `-norm-${profile.normControl}` : '';
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
