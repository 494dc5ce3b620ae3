import fs from 'node:fs';
import path from 'node:path';
import { fixturesDir } from '../src-main/engine/paths';

/** tests/fixtures inside the checkout ($EAC_FIXTURES overrides): models, world-a, data samples. */
export const FIXTURES = fixturesDir();

/**
 * The title suffix of a suite that needs `rel` under the fixtures: '' when it is there, else
 * ' (skipped: … not found …)', so a skipped suite says why in the run's own output.
 */
export function skipUnlessFixture(rel: string): string {
  return fs.existsSync(path.join(FIXTURES, rel)) ? '' : ` (skipped: ${rel} not found under ${FIXTURES}; set EAC_FIXTURES)`;
}
