// Issue 18: the fixture profiles give NAS's norm control to the one method each measurement supports
// (gpt2-world-a: EAC-AlphaEdit, llama-world-a: EAC-MEMIT), with the anchor `npm run nas-anchor`
// measured (the files in experiments/levers), and every other method writes its z as solved.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Editor, statsProvider } from '../../src-main/engine/edit';
import { loadProfile, normControlFor, Z_EDIT_METHODS } from '../../src-main/engine/edit/profile';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { packageRoot } from '../../src-main/engine/paths';
import { FIXTURES } from '../shared';
import { tmpDir, worldEdits } from '../jobs/helpers';

const measuredAnchor = (fixture: string): number =>
  JSON.parse(fs.readFileSync(path.join(packageRoot(), 'experiments', 'levers', `${fixture}-nas-anchor-memit.json`), 'utf8')).anchor;

describe('the fixture profiles scope NAS norm control to the method it helps', () => {
  it.each([
    ['gpt2-world-a', 'eac-alphaedit'],
    ['llama-world-a', 'eac-memit'],
  ] as const)('%s: %s alone, with the measured anchor', (fixture, method) => {
    const p = loadProfile(fixture);
    expect(p.normControl).toBe('nas-anchor');
    expect(p.normControlMethods).toEqual([method]);
    // the profile holds the measurement rounded to 0.1
    expect(p.normAnchor?.memit).toBe(Math.round(measuredAnchor(fixture) * 10) / 10);
    expect(Z_EDIT_METHODS.filter((m) => normControlFor(p, m) !== 'off')).toEqual([method]);
  });

  it('gpt2-world-a: AlphaEdit keeps 0.03 as its null-space threshold (the setting the 500-edit rows ran with)', () => {
    expect(loadProfile('gpt2-world-a').alphaedit.nullspaceThreshold).toBe(0.03);
    expect(loadProfile('llama-world-a').alphaedit.nullspaceThreshold).toBe(0.05);
  });

  it('gpt2-world-a, bundled: EAC-AlphaEdit writes v* with the anchor norm, EAC-MEMIT as solved', async () => {
    const model = LoadedModel.open(path.join(FIXTURES, 'gpt2-world-a'));
    const profile = loadProfile('gpt2-world-a');
    profile.stats.samples = 400;
    const cacheDir = tmpDir('eac-bundled-norm-');
    try {
      const editor = new Editor(model, profile, statsProvider(model, profile, { cacheDir }));
      const [req] = worldEdits(1, 1);
      type Per = { nasScale?: number; vStarNorm: number };
      const ae = await editor.edit('eac-alphaedit', [req]);
      const a = (ae.details.requests as Per[])[0];
      expect(a.nasScale! * a.vStarNorm).toBeCloseTo(58.4, 6);
      editor.unapply(ae.deltas);
      const em = await editor.edit('eac-memit', [req]);
      expect((em.details.requests as Per[])[0].nasScale).toBeUndefined();
    } finally {
      await model.release();
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
