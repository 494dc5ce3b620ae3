// Runs once before the suite: the GPT-2 fixture's weights come from resources/demo-model
// (scripts/link-fixtures.mjs says why), in case the checkout was installed before they moved.
// @ts-expect-error plain ES module without types
import { linkFixtures } from '../scripts/link-fixtures.mjs';

export default function setup(): void {
  linkFixtures();
}
