import { fixturesDir } from '../src-main/engine/paths';

/** tests/fixtures inside the checkout ($EAC_FIXTURES overrides): models, world-a, data samples. */
export const FIXTURES = fixturesDir();
