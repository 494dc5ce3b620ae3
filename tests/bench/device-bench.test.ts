// The device bench (issue 17, item 5) end to end on a 1-layer GPT-2 XL shape checkpoint through the
// WebGPU EP on Mesa lavapipe: the same command a GPU machine runs (scripts/device-bench.sh calls it
// with the full checkpoints), writing its own checkpoint (--make), with results per phase. Not timed:
// it checks that every phase ran on the device, that the device holds the weights once, and that
// the results file is written. Skipped, with the reason in the title, without a Vulkan driver.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fitProfileLayers } from '../../scripts/bench-scale';
import { loadProfile } from '../../src-main/engine/edit';
import { REPO } from '../engine/helpers';

const noGpuReason = process.env.VK_ICD_FILENAMES ? '' : 'VK_ICD_FILENAMES is unset: no Vulkan driver for the WebGPU EP';

describe('device bench profile for fewer layers', () => {
  it('clamps every layer field of a profile to the checkpoint and leaves full-depth profiles alone', () => {
    const p = fitProfileLayers(loadProfile('gpt2-xl'), 1);
    expect(p.rome.layer).toBe(0);
    expect(p.memit.layers).toEqual([0]);
    expect(p.ft.layer).toBe(0);
    const full = loadProfile('gpt2-xl');
    expect(fitProfileLayers(loadProfile('gpt2-xl'), 48)).toEqual(full);
  });
});

describe.skipIf(!!noGpuReason)(`bench --scale --device webgpu on a 1-layer GPT-2 XL${noGpuReason ? ` (skipped: ${noGpuReason})` : ''}`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-devbench-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes the checkpoint, generates and edits on the device, and reports device memory per phase', () => {
    const out = path.join(dir, 'results.json');
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(REPO, 'scripts', 'bench-scale.ts'),
        '--scale',
        '--device', 'webgpu',
        '--make',
        '--dir', dir,
        '--layers', '1',
        '--models', 'gpt2-xl',
        '--phases', 'generate,rome',
        '--gen-tokens', '2',
        '--max-steps', '1',
        // ≈ 33 tokens a sample: 250 cover d_ff = 6400, below which C is singular and ROME refuses
        '--stats-samples', '250',
        '--out', out,
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_500_000 },
    );
    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(r.complete).toBe(true);
    expect(r.device).toBe('webgpu');
    expect(r.results.map((x: { phase: string }) => x.phase)).toEqual(['generate', 'rome']);
    for (const x of r.results) {
      expect(x.ok, x.error).toBe(true);
      expect(x.metrics.device_used).toBe('webgpu');
      // the weights are on the device once: what it holds equals the model's device bytes
      expect(x.metrics.device_weight_bytes).toBe(x.metrics.device_weight_bytes_model);
      expect(x.metrics.device_memory_ratio).toBe(1);
      expect(x.peak_rss_bytes).toBeGreaterThan(0);
    }
    expect(r.results[0].metrics.generate_tokens).toBe(2);
    expect(r.results[0].metrics.tokens_per_s).toBeGreaterThan(0);
    expect(r.results[1].metrics.steps_cap).toBe(1);
  }, 1_600_000);
});
