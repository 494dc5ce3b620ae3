// Issue 19 item 9: the API's `stats.compute` corpusPath is read only inside the open model folder or its workspace
// (real paths, like health.run's task files) and must be a .txt/.jsonl/.json file; any readable file used to be
// accepted. Through the engine worker, on the GPT-2 fixture; `queue.import` reports its progress.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateParams } from '../../src-main/api/validate';
import { GPT2, tmpDir, useStudioEngine } from './helpers';

describe('stats.compute corpusPath over the API', () => {
  const dir = tmpDir('eac-stats-corpus-');
  const studio = useStudioEngine(dir);
  let workspaceDir = '';
  beforeAll(async () => {
    workspaceDir = (await studio.engine.call('workspace.open', { modelDir: GPT2, dbFile: path.join(dir, 'ledger.sqlite') })).workspaceDir;
  });

  it('a file that is not .txt/.jsonl/.json is refused before anything is read', () => {
    for (const corpusPath of ['/etc/passwd', '.env', '/home/u/.ssh/id_rsa'])
      expect(() => validateParams('stats.compute', { layers: [1], corpusPath })).toThrow(/"corpusPath" must be a \.txt, \.jsonl or \.json corpus file path/);
    expect(validateParams('stats.compute', { layers: [1], corpusPath: '/w/corpus.txt' })).toEqual({ layers: [1], corpusPath: '/w/corpus.txt' });
  });

  it('outside the model folder and workspace (directly or through a symlink in the workspace): path_not_allowed', async () => {
    const outside = path.join(dir, 'outside.txt');
    fs.writeFileSync(outside, 'SECRET-corpus line one\nline two\n');
    await expect(studio.engine.call('stats.compute', { layers: [1], samples: 2, corpusPath: outside })).rejects.toMatchObject({
      code: 'path_not_allowed',
      message: expect.stringMatching(/statistics corpus .*outside\.txt is outside the folders this call may read .*copy the file into one of them/),
    });
    fs.mkdirSync(workspaceDir, { recursive: true });
    const link = path.join(workspaceDir, 'link.txt');
    fs.symlinkSync(outside, link);
    const e = await studio.engine.call('stats.compute', { layers: [1], samples: 2, corpusPath: link }).catch((x: unknown) => x as Error & { code: string });
    expect(e).toMatchObject({ code: 'path_not_allowed' });
    expect((e as Error).message).not.toContain('SECRET-corpus');
  });

  it('a corpus inside the workspace is used', async () => {
    const inside = path.join(workspaceDir, 'corpus.txt');
    fs.writeFileSync(inside, Array.from({ length: 8 }, (_, i) => `Sentence number ${i} about the world and its places.`).join('\n'));
    const r = await studio.engine.call('stats.compute', { layers: [1], samples: 2, corpusPath: inside });
    expect(r.entries.some((e) => e.layer === 1)).toBe(true);
  });

  it('queue.import reports rows checked as progress', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => `Person ${i} was born in,Person ${i},City ${i}`);
    const phases: { phase: string; fraction: number }[] = [];
    const r = await studio.engine.call('queue.import', { fileName: 'f.csv', text: ['prompt,subject,target_new', ...rows].join('\n') }, (p) => phases.push(p));
    expect(r.requests).toHaveLength(300);
    const imp = phases.filter((p) => p.phase === 'import');
    expect(imp.length).toBeGreaterThan(10);
    expect(imp.at(-1)!.fraction).toBe(1);
  });
});
