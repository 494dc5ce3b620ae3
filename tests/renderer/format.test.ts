// Small display helpers of the renderer (src-renderer/src/lib/format.ts), issue 19 item 13: the
// export's result counts the manifest edits.json among the files written.
import { describe, expect, it } from 'vitest';
import { deviceHoldingLine, exportSummary } from '../../src-renderer/src/lib/format';

describe('exportSummary', () => {
  it('counts edits.json, which ExportResult.files does not list', () => {
    const files = ['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json', 'README.md'].map((name) => ({ name, bytes: 10 }));
    const s = exportSummary({ outDir: '/x/out', files, bytes: 2048, ms: 1500, editedTensors: ['a', 'b'], editIds: [1, 2, 3] });
    expect(s).toBe('Wrote 6 files (2.0 KB; edits.json lists the other 5) to /x/out in 1.5 s; 2 tensor(s) materialised from 3 edit(s).');
    // a result that lists the manifest itself is not counted twice
    expect(exportSummary({ outDir: '/o', files: [...files, { name: 'edits.json', bytes: 1 }], bytes: 1, ms: 1, editedTensors: [], editIds: [] })).toMatch(/^Wrote 6 files/);
  });
});

describe('deviceHoldingLine', () => {
  it('says how much of the weights is on the GPU and what was converted at upload', () => {
    const line = deviceHoldingLine({ device: 'webgpu', tensors: 36, bytes: 2973802496, modelBytes: 2973802496, conversions: { bfloat16: 'float16' }, uploadSeconds: 25.08 });
    expect(line).toBe('2.8 GB of 2.8 GB of weights on webgpu (36 tensors, bfloat16 → float16 once at upload, uploaded in 25.1 s)');
  });
  it('says nothing is there before the first session, with what will go up', () => {
    expect(deviceHoldingLine({ device: 'webgpu', tensors: 0, bytes: 0, modelBytes: 11563008, conversions: {}, uploadSeconds: 0 })).toBe(
      'nothing yet on webgpu: the weights (11 MB) go up with the first generation or edit',
    );
  });
});
