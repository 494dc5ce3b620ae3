// The Cholesky factor made at statistics time is persisted beside the statistics and read back by a
// second process (`eac stats compute --ridge R` twice, through child_process) instead of refactorised.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../engine/helpers';
import { FIXTURES, skipUnlessFixture } from '../shared';

const MODEL = path.join(FIXTURES, 'gpt2-world-a');
const have = fs.existsSync(path.join(MODEL, 'model.safetensors'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-factor-proc-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function eac(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'bin/eac.mjs'), ...args], { cwd: os.tmpdir(), env: { ...process.env, EAC_CACHE_DIR: path.join(tmp, 'cache') } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe.skipIf(!have)(`persisted factor across processes${skipUnlessFixture('gpt2-world-a/model.safetensors')}`, () => {
  it('the first process factorises, the second reads the factor from disk', async () => {
    const args = ['stats', 'compute', '--model', MODEL, '--layers', '1', '--samples', '3', '--max-tokens', '16', '--ridge', '0.01', '--json'];
    const a = await eac(args);
    expect(a.code).toBe(0);
    const ja = JSON.parse(a.stdout);
    expect(ja.layers[0].factor).toMatch(/^factorised/);
    // 3 samples of ≤ 16 tokens for d_ff = 768: warned about, not refused (the ridge makes C + λI solvable)
    expect(ja.layers[0].warnings.join(' ')).toMatch(/fewer than d_ff = 768/);
    const b = await eac(args);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout).layers[0].factor).toMatch(/^disk/);
    // without a ridge the same statistics are refused with the error code's message, exit 1
    const c = await eac(args.map((x) => (x === '0.01' ? '0' : x)));
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(/fewer than d_ff = 768: C = E\[kkᵀ\] has rank at most \d+ and is singular/);
  });
});
