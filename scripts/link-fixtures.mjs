#!/usr/bin/env node
// tests/fixtures/gpt2-world-a is the demo model (resources/demo-model) plus its float64 reference:
// the repository keeps the 11 MiB of weights once, so that the working tree fits what the GPU
// machine receives (64 MiB with node and onnxruntime, scripts/device-pack.sh). This links (or, across
// file systems, copies) the demo model's files into the fixture folder where they are missing; run
// by `npm ci`/`npm install` (prepare) and before the tests (vitest globalSetup). Idempotent; never
// replaces a file that is there.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

export function linkFixtures() {
  const from = path.join(root, 'resources', 'demo-model');
  const to = path.join(root, 'tests', 'fixtures', 'gpt2-world-a');
  if (!fs.existsSync(from) || !fs.existsSync(to)) return;
  for (const f of FILES) {
    const dest = path.join(to, f);
    if (fs.existsSync(dest)) continue;
    try {
      fs.linkSync(path.join(from, f), dest);
    } catch {
      fs.copyFileSync(path.join(from, f), dest, fs.constants.COPYFILE_EXCL);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) linkFixtures();
