// What travels to a GPU machine (the device tool: working tree + carried paths, 64 MiB in all) must
// leave room for scripts/device-pack.sh's pack — node, onnxruntime-node, the Vulkan loader and the
// bundled bench, 33.4 MiB as measured — or the one device call a session gets is refused.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const MiB = 2 ** 20;
/** 63 MiB (1 MiB spare) minus the pack, rounded up */
const TREE_SHARE = 63 * MiB - 34 * MiB;

function inGit(): boolean {
  try {
    execFileSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!inGit())(`the working tree that travels to a GPU machine${inGit() ? '' : ' (skipped: not a git checkout)'}`, () => {
  it(`stays within ${TREE_SHARE / MiB} MiB, leaving the device pack its share of 64 MiB`, () => {
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, maxBuffer: 64 * MiB })
      .toString('utf8')
      .split('\0')
      .filter(Boolean);
    let bytes = 0;
    const big: [string, number][] = [];
    for (const f of files) {
      const st = fs.lstatSync(path.join(ROOT, f), { throwIfNoEntry: false });
      if (!st?.isFile()) continue;
      bytes += st.size;
      if (st.size > MiB) big.push([f, st.size]);
    }
    expect(bytes, `largest: ${big.sort((a, b) => b[1] - a[1]).slice(0, 5).map(([f, n]) => `${f} ${(n / MiB).toFixed(1)} MiB`).join(', ')}`).toBeLessThanOrEqual(TREE_SHARE);
    // the demo model's weights are in the tree once (tests/fixtures/gpt2-world-a links them)
    expect(files).not.toContain('tests/fixtures/gpt2-world-a/model.safetensors');
  });
});
