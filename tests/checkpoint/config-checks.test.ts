// Issue 19 item 5: config.json values that used to be accepted and silently ran a different model (or none): an
// n_layer below the layers in the weights, a normalization epsilon of 1e308, a null or unknown activation, and
// garbage `architectures`. Real folders: copies of the fixtures with one field of config.json changed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError, loadCheckpoint } from '../../src-main/engine/checkpoint';
import { runEac } from '../jobs/helpers';
import { FIXTURES } from '../shared';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-config-checks-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A copy of a fixture folder whose config.json has `change` applied (undefined deletes a field). */
function folder(arch: 'gpt2' | 'llama', change: Record<string, unknown>): string {
  const src = path.join(FIXTURES, arch === 'gpt2' ? 'gpt2-world-a' : 'llama-world-a');
  const d = path.join(tmp, `${arch}-${n++}`);
  fs.cpSync(src, d, { recursive: true });
  const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
  for (const [k, v] of Object.entries(change)) if (v === undefined) delete cfg[k]; else cfg[k] = v;
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(cfg));
  return d;
}

function refusal(dir: string): CheckpointError {
  try {
    loadCheckpoint(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toContain(path.join(dir, 'config.json'));
    return e as CheckpointError;
  }
  throw new Error(`${dir}: config.json was accepted`);
}

describe('config.json values that would run a different model are refused', () => {
  it('n_layer / num_hidden_layers below the layers in the weights: names the field and the count found', () => {
    const g = refusal(folder('gpt2', { n_layer: 5 }));
    expect(g.code).toBe('bad_config');
    expect(g.message).toMatch(/n_layer is 5, but the weight files hold tensors for 6 layers; .* set it to 6/);
    const l = refusal(folder('llama', { num_hidden_layers: 1 }));
    expect(l.message).toMatch(/num_hidden_layers is 1, but the weight files hold tensors for 6 layers/);
  });

  it('a head count that does not divide the width', () => {
    expect(refusal(folder('gpt2', { n_head: 5 })).message).toMatch(/config field n_head \(5\) must divide n_embd \(192\)/);
    expect(refusal(folder('llama', { num_attention_heads: 5, num_key_value_heads: 5 })).message).toMatch(/num_attention_heads \(5\) must divide hidden_size \(192\)/);
  });

  it('LLaMA head counts × head dimension that the q / k projections contradict: names the field and both factors', () => {
    // fixture: 6 heads, 2 key/value heads, head dimension 32 (q_proj 192 rows, k_proj 64)
    const q = refusal(folder('llama', { head_dim: 16 }));
    expect(q.code).toBe('bad_config');
    expect(q.message).toMatch(/num_attention_heads × head dimension is 6 × 16 = 96, but model\.layers\.0\.self_attn\.q_proj\.weight has 192 rows/);
    const kv = refusal(folder('llama', { num_key_value_heads: 3 }));
    expect(kv.message).toMatch(/num_key_value_heads × head dimension is 3 × 32 = 96, but model\.layers\.0\.self_attn\.k_proj\.weight has 64 rows/);
  });

  it('layer_norm_epsilon / rms_norm_eps outside (0, 1)', () => {
    for (const v of [1e308, 1, 0, -1e-5, 'small']) {
      const e = refusal(folder('gpt2', { layer_norm_epsilon: v }));
      expect(e.code).toBe('bad_config');
      expect(e.message).toMatch(/layer_norm_epsilon must be a number between 0 and 1/);
    }
    expect(refusal(folder('llama', { rms_norm_eps: 1e308 })).message).toMatch(/rms_norm_eps must be a number between 0 and 1 .*got 1e\+308/);
  });

  it('a null or unknown activation', () => {
    const nul = refusal(folder('gpt2', { activation_function: null }));
    expect(nul.code).toBe('bad_config');
    expect(nul.message).toMatch(/activation_function must name the activation function .*got null/);
    const relu = refusal(folder('gpt2', { activation_function: 'relu' }));
    expect(relu.code).toBe('unsupported_config');
    expect(relu.message).toMatch(/activation_function is "relu", which this engine does not implement \(supported: gelu_new/);
    expect(refusal(folder('llama', { hidden_act: null })).message).toMatch(/hidden_act must name the activation function \(silu\)/);
    expect(refusal(folder('llama', { hidden_act: 'gelu' })).code).toBe('unsupported_config');
    // absent still means the architecture's default
    expect(loadCheckpoint(folder('gpt2', { activation_function: undefined })).config.activation).toBe('gelu_new');
  });

  it('architectures / model_type that are not a supported value', () => {
    const garbage = refusal(folder('gpt2', { architectures: ['garbage'] }));
    expect(garbage.code).toBe('unsupported_arch');
    expect(garbage.message).toMatch(/architectures names "garbage", which is not a supported gpt2 class \(supported: GPT2LMHeadModel, GPT2Model\)/);
    for (const v of ['GPT2LMHeadModel', 7, [], [7]]) expect(refusal(folder('gpt2', { architectures: v })).message).toMatch(/architectures must be a non-empty list of class names/);
    expect(refusal(folder('gpt2', { architectures: ['LlamaForCausalLM'] })).message).toMatch(/a llama class, but model_type is gpt2/);
    expect(refusal(folder('llama', { model_type: 'llama2' })).code).toBe('unsupported_arch');
    expect(refusal(folder('llama', { model_type: 7 })).message).toMatch(/model_type must be a string/);
    // no model_type: the architectures entry decides, and must still be a supported class
    expect(refusal(folder('gpt2', { model_type: undefined, architectures: ['garbage'] })).message).toMatch(/no model_type/);
    expect(loadCheckpoint(folder('gpt2', { architectures: null })).config.arch).toBe('gpt2');
  });

  it('through the CLI: eac info exits 2 naming config.json and the field', async () => {
    const d = folder('gpt2', { n_layer: 5 });
    const r = await runEac(['info', '--model', d]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(path.join(d, 'config.json'));
    expect(r.err).toMatch(/n_layer is 5, but the weight files hold tensors for 6 layers/);
  });
});
