#!/usr/bin/env node
// `eac` launcher: runs the TypeScript CLI (src-main/cli/main.ts) through tsx's loader API, from any
// working directory; falls back to a bundled out/cli/main.js when the sources are not shipped.
import { existsSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const source = new URL('src-main/cli/main.ts', root);
const bundled = new URL('out/cli/main.js', root);

let mod;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  mod = await import(source.href);
} else if (existsSync(bundled)) {
  mod = await import(bundled.href);
} else {
  process.stderr.write(`eac: cannot find ${source.pathname} or ${bundled.pathname}\n`);
  process.exit(1);
}
// files 0600, folders 0700 (ledgers, caches and exports may hold private data on shared machines)
process.umask(0o077);
process.exitCode = await mod.main(process.argv.slice(2));
