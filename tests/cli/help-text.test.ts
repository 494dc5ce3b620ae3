// Issue 19 item 13: `eac --help` describes the --max-memory default as the engine computes it and as
// the README says (it said "85 % of RAM"; the budget is 1.2 × the weights, ≥ 2 GiB, ≤ 85 % of RAM).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultMemoryBudget } from '../../src-main/engine/runtime/memory';
import { runEac } from '../jobs/helpers';

describe('--max-memory help', () => {
  it('states the default the engine uses, like the README', async () => {
    const r = await runEac(['--help']);
    const help = r.out.replace(/\s+/g, ' ');
    expect(help).toMatch(/default \$EAC_MAX_MEMORY, else 1\.2 × the model's weight bytes, at least 2 GiB and at most 85 % of RAM/);
    const readme = fs.readFileSync(path.resolve('README.md'), 'utf8').replace(/\s+/g, ' ');
    expect(readme).toMatch(/default 1\.2 × the weight bytes \(at least 2 GiB, at most 85 % of the machine's RAM\)/);
    // and that is what the engine computes
    const saved = process.env.EAC_MAX_MEMORY;
    delete process.env.EAC_MAX_MEMORY;
    try {
      const ram = os.totalmem() * 0.85;
      expect(defaultMemoryBudget(10 * 1024 ** 3)).toBe(Math.floor(Math.min(ram, 12 * 1024 ** 3)));
      expect(defaultMemoryBudget(1024)).toBe(Math.floor(Math.min(ram, 2 * 1024 ** 3)));
    } finally {
      if (saved !== undefined) process.env.EAC_MAX_MEMORY = saved;
    }
  });
});
