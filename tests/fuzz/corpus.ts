// A seeded corpus of malformed model folders, config.json files, tokenizer.json files and fact files,
// each with the outcome it must have. Pure data: the cases are file specs (bytes, FIFOs, folders,
// links, sparse files) plus the expected outcome, worked out here from the mutation that made the
// case — never by running the code under test. fuzz-child.ts writes and evaluates them; the test
// compares.
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES } from '../shared';
import { ledgerCases } from './ledger-cases';

export type FileSpec =
  | { kind: 'bytes'; data: Buffer }
  | { kind: 'fifo' }
  | { kind: 'dir' }
  | { kind: 'symlink'; target: string }
  /** a sparse file of this many bytes (no disk used) */
  | { kind: 'sparse'; size: number };

export type Expected =
  | { ok: true }
  /** a CheckpointError (or, for ledgers, any EacError) with this code */
  | { code: string }
  /** parseFacts' result counts (fileError: an error for the file as a whole, row 0) */
  | { facts: { requests: number; errors: number; fileError?: boolean; fields?: string[] } }
  /** a plain Error whose message contains this */
  | { threw: string };

export interface FuzzCase {
  id: string;
  /**
   * what is evaluated: loadCheckpoint(dir), loadCheckpoint + the import's full hash (checkpointHashes, full), loadTokenizer(dir)
   * + encode, parseFacts(readFactsFile(file)), or openLedger(dir/ledger.sqlite, { readOnly: true }) + listModels +
   * verifyFactors (ledger-cases.ts)
   */
  target: 'checkpoint' | 'import' | 'tokenizer' | 'facts' | 'ledger';
  /** relative path -> spec; for facts the file evaluated is `factsFile` */
  files: Record<string, FileSpec>;
  factsFile?: string;
  vocabSize?: number;
  expect: Expected;
  /** strings the error message must contain */
  mentions?: string[];
}

/** Marker put into file contents: no error message may quote it. */
export const SECRET = 'SECRET-c0ntent-7f3a';

// ----- seeded PRNG (mulberry32) -----

export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}
type Rng = ReturnType<typeof rng>;

const bytes = (data: Buffer | string): FileSpec => ({ kind: 'bytes', data: Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8') });
const json = (v: unknown): FileSpec => bytes(JSON.stringify(v, null, 1));

// ----- tiny checkpoints, written by hand (independent of the loader's own name tables) -----

type TensorSpec = { name: string; dtype: string; shape: number[] };

const GPT2_CFG = {
  model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: 8, n_embd: 4, n_layer: 2, n_head: 2, n_inner: 8,
  n_positions: 4, n_ctx: 4, bos_token_id: 0, eos_token_id: 0, _note: SECRET,
};
const LLAMA_CFG = {
  model_type: 'llama', vocab_size: 8, hidden_size: 4, intermediate_size: 8, num_hidden_layers: 2, num_attention_heads: 2,
  num_key_value_heads: 1, max_position_embeddings: 16, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2, _note: SECRET,
};

function gpt2Tensors(layers = 2): TensorSpec[] {
  const t: TensorSpec[] = [{ name: 'wte.weight', dtype: 'F32', shape: [8, 4] }, { name: 'wpe.weight', dtype: 'F32', shape: [4, 4] }];
  for (let i = 0; i < layers; i++) {
    const p = `h.${i}.`;
    t.push(
      { name: p + 'ln_1.weight', dtype: 'F32', shape: [4] }, { name: p + 'ln_1.bias', dtype: 'F32', shape: [4] },
      { name: p + 'attn.c_attn.weight', dtype: 'F32', shape: [4, 12] }, { name: p + 'attn.c_attn.bias', dtype: 'F32', shape: [12] },
      { name: p + 'attn.c_proj.weight', dtype: 'F32', shape: [4, 4] }, { name: p + 'attn.c_proj.bias', dtype: 'F32', shape: [4] },
      { name: p + 'ln_2.weight', dtype: 'F32', shape: [4] }, { name: p + 'ln_2.bias', dtype: 'F32', shape: [4] },
      { name: p + 'mlp.c_fc.weight', dtype: 'F32', shape: [4, 8] }, { name: p + 'mlp.c_fc.bias', dtype: 'F32', shape: [8] },
      { name: p + 'mlp.c_proj.weight', dtype: 'F32', shape: [8, 4] }, { name: p + 'mlp.c_proj.bias', dtype: 'F32', shape: [4] },
    );
  }
  t.push({ name: 'ln_f.weight', dtype: 'F32', shape: [4] }, { name: 'ln_f.bias', dtype: 'F32', shape: [4] });
  return t;
}

function llamaTensors(): TensorSpec[] {
  const t: TensorSpec[] = [{ name: 'model.embed_tokens.weight', dtype: 'F32', shape: [8, 4] }];
  for (let i = 0; i < 2; i++) {
    const p = `model.layers.${i}.`;
    t.push(
      { name: p + 'input_layernorm.weight', dtype: 'F32', shape: [4] },
      { name: p + 'self_attn.q_proj.weight', dtype: 'F32', shape: [4, 4] },
      { name: p + 'self_attn.k_proj.weight', dtype: 'F32', shape: [2, 4] },
      { name: p + 'self_attn.v_proj.weight', dtype: 'F32', shape: [2, 4] },
      { name: p + 'self_attn.o_proj.weight', dtype: 'F32', shape: [4, 4] },
      { name: p + 'post_attention_layernorm.weight', dtype: 'F32', shape: [4] },
      { name: p + 'mlp.gate_proj.weight', dtype: 'F32', shape: [8, 4] },
      { name: p + 'mlp.up_proj.weight', dtype: 'F32', shape: [8, 4] },
      { name: p + 'mlp.down_proj.weight', dtype: 'F32', shape: [4, 8] },
    );
  }
  t.push({ name: 'model.norm.weight', dtype: 'F32', shape: [4] }, { name: 'lm_head.weight', dtype: 'F32', shape: [8, 4] });
  return t;
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4 };
const count = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** header object + data for tensors laid out contiguously; values finite, from the PRNG */
function layout(ts: TensorSpec[], r: Rng): { header: Record<string, unknown>; data: Buffer } {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const parts: Buffer[] = [];
  let pos = 0;
  for (const t of ts) {
    const n = count(t.shape) * BYTES[t.dtype];
    const f = new Float32Array(n / 4);
    for (let i = 0; i < f.length; i++) f[i] = r.next() * 2 - 1;
    parts.push(Buffer.from(f.buffer));
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + n] };
    pos += n;
  }
  return { header, data: Buffer.concat(parts) };
}

function stFile(header: unknown, data: Buffer, o: { headerText?: Buffer; lenOverride?: bigint; truncateTo?: number } = {}): FileSpec {
  const hb = o.headerText ?? Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(o.lenOverride ?? BigInt(hb.length));
  const all = Buffer.concat([len, hb, data]);
  return bytes(o.truncateTo === undefined ? all : all.subarray(0, o.truncateTo));
}

type Entry = { dtype: unknown; shape: unknown; data_offsets: unknown };
const entries = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k !== '__metadata__');

// ----- the generators -----

function safetensorsCases(r: Rng, n: number): FuzzCase[] {
  const out: FuzzCase[] = [];
  const ST = 'model.safetensors';
  // tensors whose transposition only the full shape check sees (not pinned by a config field)
  const unpinned = ['h.0.attn.c_attn.weight', 'h.1.attn.c_attn.weight', 'h.0.mlp.c_proj.weight', 'h.1.mlp.c_proj.weight', 'h.1.mlp.c_fc.weight'];
  const kinds = [
    'valid', 'extra-tensor', 'padding', 'short-file', 'trunc-header', 'trunc-data', 'len-zero', 'len-one', 'len-huge', 'len-longer',
    'len-shorter', 'not-object', 'bad-utf8', 'dtype-unknown', 'dtype-size', 'dtype-int', 'shape-negative', 'shape-fraction', 'shape-not-list',
    'shape-overflow', 'shape-count', 'shape-transposed', 'offsets-reversed', 'offsets-fraction', 'offsets-negative', 'offsets-three', 'offsets-far',
    'overlap', 'entry-not-object', 'metadata-bad', 'missing-tensor', 'duplicate-prefix', 'nan-weight',
  ] as const;
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length];
    const { header, data } = layout(gpt2Tensors(), r);
    const names = entries(header);
    const name = r.pick(names);
    const e = header[name] as Entry;
    const files: Record<string, FileSpec> = { 'config.json': json(GPT2_CFG) };
    let expect: Expected = { ok: true };
    let mentions: string[] | undefined = [ST];
    const size = 8 + Buffer.byteLength(JSON.stringify(header)) + data.length;
    const hlen = Buffer.byteLength(JSON.stringify(header));
    switch (kind) {
      case 'valid':
        files[ST] = stFile(header, data);
        mentions = undefined;
        break;
      case 'extra-tensor': {
        const extra = Buffer.alloc(4 * r.int(1, 6));
        header[`extra.${i}`] = { dtype: 'F32', shape: [extra.length / 4], data_offsets: [data.length, data.length + extra.length] };
        files[ST] = stFile(header, Buffer.concat([data, extra]));
        mentions = undefined;
        break;
      }
      case 'padding':
        files[ST] = stFile(header, Buffer.concat([data, Buffer.alloc(r.int(1, 64))]));
        mentions = undefined;
        break;
      case 'short-file':
        files[ST] = bytes(Buffer.alloc(r.int(0, 7), 1));
        expect = { code: 'file_truncated' };
        break;
      case 'trunc-header':
        files[ST] = stFile(header, data, { truncateTo: r.int(9, 8 + hlen - 1) });
        expect = { code: 'file_truncated' };
        break;
      case 'trunc-data':
        files[ST] = stFile(header, data, { truncateTo: r.int(8 + hlen, size - 1) });
        expect = { code: 'file_truncated' };
        break;
      case 'len-zero':
        files[ST] = stFile(header, data, { lenOverride: 0n });
        expect = { code: 'header_too_short' };
        break;
      case 'len-one':
        files[ST] = stFile(header, data, { lenOverride: 1n });
        expect = { code: 'header_too_short' };
        break;
      case 'len-huge':
        files[ST] = stFile(header, data, { lenOverride: BigInt(100_000_001) + BigInt(Math.floor(r.next() * 2 ** 52)) * BigInt(r.int(1, 4000)) });
        expect = { code: 'header_too_large' };
        break;
      case 'len-longer': // header length reaching into the tensor data: JSON followed by binary
        files[ST] = stFile(header, data, { lenOverride: BigInt(hlen + r.int(1, 64)) });
        expect = { code: 'header_json' };
        break;
      case 'len-shorter': // header cut inside the JSON
        files[ST] = stFile(header, data, { lenOverride: BigInt(r.int(2, hlen - 1)) });
        expect = { code: 'header_json' };
        break;
      case 'not-object':
        files[ST] = stFile(null, data, { headerText: Buffer.from(r.pick(['[1,2]', '42', '"x"', 'null', 'true', '[]'])) });
        expect = { code: 'header_json' };
        break;
      case 'bad-utf8': {
        const hb = Buffer.from(JSON.stringify(header), 'utf8');
        hb[r.int(1, hb.length - 2)] = r.pick([0xff, 0xc3, 0xfe, 0x80]);
        files[ST] = stFile(null, data, { headerText: hb });
        expect = { code: 'header_json' };
        break;
      }
      case 'dtype-unknown':
        e.dtype = r.pick(['F8_E4M3', 'Q4_0', 'float32', '', 7, null]);
        files[ST] = stFile(header, data);
        expect = { code: 'bad_dtype' };
        mentions = [ST, name];
        break;
      case 'dtype-size': // F16 over 4-byte elements: the byte count no longer matches
        e.dtype = r.pick(['F16', 'BF16', 'F64', 'I8', 'U8']);
        files[ST] = stFile(header, data);
        expect = { code: 'length_mismatch' };
        mentions = [ST, name];
        break;
      case 'dtype-int': // same size, not a float type
        e.dtype = r.pick(['I32', 'U32']);
        files[ST] = stFile(header, data);
        expect = { code: 'bad_dtype' };
        mentions = [name];
        break;
      case 'shape-negative':
        e.shape = [-(r.int(1, 9)), 4];
        files[ST] = stFile(header, data);
        expect = { code: 'bad_shape' };
        break;
      case 'shape-fraction':
        e.shape = [r.int(1, 5) + 0.5];
        files[ST] = stFile(header, data);
        expect = { code: 'bad_shape' };
        break;
      case 'shape-not-list':
        e.shape = r.pick([4, '4', { 0: 4 }, null]);
        files[ST] = stFile(header, data);
        expect = { code: 'bad_shape' };
        break;
      case 'shape-overflow':
        e.shape = [2 ** 30, 2 ** 30, r.int(2, 9) * 2 ** 10];
        files[ST] = stFile(header, data);
        expect = { code: 'bad_shape' };
        break;
      case 'shape-count':
        e.shape = [...(e.shape as number[]), r.int(2, 5)];
        files[ST] = stFile(header, data);
        expect = { code: 'length_mismatch' };
        break;
      case 'shape-transposed': {
        const t = r.pick(unpinned);
        const te = header[t] as Entry;
        te.shape = [...(te.shape as number[])].reverse();
        files[ST] = stFile(header, data);
        expect = { code: 'shape_mismatch' };
        mentions = [t];
        break;
      }
      case 'offsets-reversed': {
        const [b, en] = e.data_offsets as number[];
        e.data_offsets = [en, b];
        files[ST] = stFile(header, data);
        expect = { code: 'offset_out_of_range' };
        mentions = [ST, name];
        break;
      }
      case 'offsets-fraction': {
        const [b, en] = e.data_offsets as number[];
        e.data_offsets = [b + 0.5, en + 0.5];
        files[ST] = stFile(header, data);
        expect = { code: 'offset_out_of_range' };
        break;
      }
      case 'offsets-negative': {
        const [b, en] = e.data_offsets as number[];
        e.data_offsets = [b - en - 4, -4];
        files[ST] = stFile(header, data);
        expect = { code: 'offset_out_of_range' };
        break;
      }
      case 'offsets-three':
        e.data_offsets = [...(e.data_offsets as number[]), 0];
        files[ST] = stFile(header, data);
        expect = { code: 'offset_out_of_range' };
        break;
      case 'offsets-far': {
        // the last tensor moved far past the end: not a contiguous layout, so not "truncated"
        const last = names[names.length - 1];
        const le = header[last] as Entry;
        const [b, en] = le.data_offsets as number[];
        const shift = r.int(1, 1e6) * 64;
        le.data_offsets = [b + shift, en + shift];
        files[ST] = stFile(header, data);
        expect = { code: 'offset_out_of_range' };
        mentions = [ST, last];
        break;
      }
      case 'overlap': {
        // two tensors of the same byte size made to share one range
        const bySize = names.filter((x) => x !== name && count((header[x] as Entry).shape as number[]) === count(e.shape as number[]));
        const other = bySize.length ? r.pick(bySize) : names.find((x) => x !== name)!;
        const oe = header[other] as Entry;
        if (count(oe.shape as number[]) === count(e.shape as number[])) {
          e.data_offsets = [...(oe.data_offsets as number[])];
          expect = { code: 'overlap' };
        } else {
          expect = { code: 'length_mismatch' };
          e.data_offsets = [...(oe.data_offsets as number[])];
        }
        files[ST] = stFile(header, data);
        break;
      }
      case 'entry-not-object':
        header[name] = r.pick([[1, 2], 'F32', 3, null]);
        files[ST] = stFile(header, data);
        expect = { code: 'header_json' };
        break;
      case 'metadata-bad':
        header.__metadata__ = r.pick([{ format: 1 }, [1], 'pt', { a: { b: 'c' } }]);
        files[ST] = stFile(header, data);
        expect = { code: 'header_json' };
        break;
      case 'missing-tensor': {
        delete header[name];
        files[ST] = stFile(header, data);
        expect = { code: 'missing_tensor' };
        mentions = [name];
        break;
      }
      case 'duplicate-prefix': {
        const d2 = Buffer.alloc(count(e.shape as number[]) * 4);
        header['transformer.' + name] = { dtype: 'F32', shape: e.shape, data_offsets: [data.length, data.length + d2.length] };
        files[ST] = stFile(header, Buffer.concat([data, d2]));
        expect = { code: 'duplicate_tensor' };
        mentions = [name];
        break;
      }
      case 'nan-weight': {
        // a NaN / Inf in the first 4 KiB of a tensor: inside the open-time sampled scan
        const [b] = e.data_offsets as number[];
        data.writeFloatLE(r.pick([NaN, Infinity, -Infinity]), b);
        files[ST] = stFile(header, data);
        expect = { code: 'non_finite' };
        mentions = [ST, name];
        break;
      }
    }
    out.push({ id: `st-${String(i).padStart(3, '0')}-${kind}`, target: 'checkpoint', files, expect, mentions });
  }
  return out;
}

function configCases(r: Rng, n: number): FuzzCase[] {
  const out: FuzzCase[] = [];
  const kinds = [
    'gpt2-layers-huge', 'gpt2-layers-bad', 'gpt2-vocab', 'gpt2-embd', 'gpt2-inner', 'gpt2-positions', 'gpt2-heads', 'gpt2-token-id',
    'gpt2-eps', 'gpt2-unsupported', 'llama-layers-huge', 'llama-kv', 'llama-ffn', 'llama-heads', 'llama-rope', 'llama-bias',
    'model-type', 'not-json', 'not-object', 'missing', 'fifo', 'directory', 'too-large', 'llama-valid',
  ] as const;
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length];
    const llama = kind.startsWith('llama');
    const { header, data } = layout(llama ? llamaTensors() : gpt2Tensors(), r);
    const files: Record<string, FileSpec> = { 'model.safetensors': stFile(header, data) };
    const cfg: Record<string, unknown> = { ...(llama ? LLAMA_CFG : GPT2_CFG) };
    let expect: Expected = { code: 'bad_config' };
    let mentions: string[] | undefined = ['config.json'];
    let cfgSpec: FileSpec | null = null;
    switch (kind) {
      case 'gpt2-layers-huge':
        cfg.n_layer = r.pick([3, 1e3, 1e6, 1e9, 2 ** 53 - 1]);
        mentions.push('n_layer');
        break;
      case 'gpt2-layers-bad':
        cfg.n_layer = r.pick([0, -1, 1.5, '2', [2], true]);
        mentions.push('n_layer');
        break;
      case 'gpt2-vocab':
        cfg.vocab_size = r.pick([4, 7, 9, 50257, 1e12]);
        mentions.push('vocab_size');
        break;
      case 'gpt2-embd':
        cfg.n_embd = r.pick([2, 6, 8, 1024]);
        mentions.push('n_embd');
        break;
      case 'gpt2-inner':
        cfg.n_inner = r.pick([4, 16, 3072, 1e9]);
        mentions.push('n_inner');
        break;
      case 'gpt2-positions':
        cfg.n_positions = r.pick([1, 5, 1024, 1e9]);
        mentions.push('n_positions');
        break;
      case 'gpt2-heads':
        cfg.n_head = r.pick([3, 5, 7]);
        mentions.push('n_head');
        break;
      case 'gpt2-token-id':
        cfg[r.pick(['bos_token_id', 'eos_token_id'])] = r.pick([-1, 8, 50256, 1.5, 'x', [0, 99]]);
        break;
      case 'gpt2-eps':
        cfg.layer_norm_epsilon = r.pick([-1e-5, 0, 'small', -1]);
        mentions.push('layer_norm_epsilon');
        break;
      case 'gpt2-unsupported':
        cfg[r.pick(['scale_attn_by_inverse_layer_idx', 'add_cross_attention'])] = true;
        expect = { code: 'unsupported_config' };
        break;
      case 'llama-layers-huge':
        cfg.num_hidden_layers = r.pick([3, 80, 1e9]);
        mentions.push('num_hidden_layers');
        break;
      case 'llama-kv':
        cfg.num_key_value_heads = r.pick([3, 4, 2]);
        // 3 does not divide 2 heads; 2 or 4 heads are sizes the k_proj tensor contradicts
        mentions.push('num_key_value_heads');
        break;
      case 'llama-ffn':
        cfg.intermediate_size = r.pick([4, 16, 11008]);
        mentions.push('intermediate_size');
        break;
      case 'llama-heads':
        cfg.num_attention_heads = 1;
        cfg.num_key_value_heads = 1;
        cfg.head_dim = r.pick([2, 6]);
        mentions.push('num_attention_heads');
        break;
      case 'llama-rope':
        cfg.rope_scaling = r.pick([{ type: 'linear', factor: 2 }, { rope_type: 'yarn' }, 'dynamic']);
        expect = { code: 'unsupported_config' };
        break;
      case 'llama-bias':
        cfg[r.pick(['attention_bias', 'mlp_bias'])] = true;
        expect = { code: 'unsupported_config' };
        break;
      case 'llama-valid':
        expect = { ok: true };
        mentions = undefined;
        break;
      case 'model-type':
        cfg.model_type = r.pick(['bert', 'mistral', 't5', 'gpt_neox']);
        expect = { code: 'unsupported_arch' };
        break;
      case 'not-json': {
        const t = JSON.stringify(cfg);
        cfgSpec = bytes(r.pick([t.slice(0, r.int(1, t.length - 1)), t.replace(':', ' '), `{"_note": ${SECRET}}`, t + '}x']));
        break;
      }
      case 'not-object':
        cfgSpec = bytes(r.pick(['[1,2,3]', '"gpt2"', '42', 'null']));
        break;
      case 'missing':
        expect = { code: 'no_config' };
        break;
      case 'fifo':
        cfgSpec = { kind: 'fifo' };
        expect = { code: 'not_regular_file' };
        break;
      case 'directory':
        cfgSpec = { kind: 'dir' };
        expect = { code: 'not_regular_file' };
        break;
      case 'too-large':
        cfgSpec = { kind: 'sparse', size: 16 * 1024 * 1024 + r.int(1, 1 << 20) };
        expect = { code: 'file_too_large' };
        break;
    }
    if (kind !== 'missing') files['config.json'] = cfgSpec ?? json(cfg);
    out.push({ id: `cfg-${String(i).padStart(3, '0')}-${kind}`, target: 'checkpoint', files, expect, mentions });
  }
  return out;
}

function folderCases(r: Rng): FuzzCase[] {
  const out: FuzzCase[] = [];
  const g = () => layout(gpt2Tensors(), r);
  const base = () => ({ 'config.json': json(GPT2_CFG) }) as Record<string, FileSpec>;
  const add = (id: string, files: Record<string, FileSpec>, expect: Expected, mentions?: string[]) =>
    out.push({ id: `dir-${id}`, target: 'checkpoint', files, expect, mentions });
  add('weights-fifo', { ...base(), 'model.safetensors': { kind: 'fifo' } }, { code: 'not_regular_file' }, ['model.safetensors']);
  add('weights-dir', { ...base(), 'model.safetensors': { kind: 'dir' } }, { code: 'not_regular_file' });
  add('weights-dev-link', { ...base(), 'model.safetensors': { kind: 'symlink', target: '/dev/zero' } }, { code: 'symlink_outside' });
  add('weights-dangling', { ...base(), 'model.safetensors': { kind: 'symlink', target: 'nowhere.bin' } }, { code: 'no_weights' });
  add('no-weights', base(), { code: 'no_weights' });
  add('pickle-only', { ...base(), 'pytorch_model.bin': bytes('PK\u0003\u0004') }, { code: 'pickle_only' });
  // sharded LLaMA-style GPT-2: two shards + index
  const sharded = (mut: (files: Record<string, FileSpec>, map: Record<string, string>) => void) => {
    const { header, data } = g();
    const names = entries(header);
    const half = Math.ceil(names.length / 2);
    const files = base();
    const map: Record<string, string> = {};
    const shards = ['a.safetensors', 'b.safetensors'];
    [names.slice(0, half), names.slice(half)].forEach((group, s) => {
      const h: Record<string, unknown> = {};
      const parts: Buffer[] = [];
      let pos = 0;
      for (const n of group) {
        const e = header[n] as { shape: number[]; data_offsets: number[] };
        const chunk = data.subarray(e.data_offsets[0], e.data_offsets[1]);
        h[n] = { dtype: 'F32', shape: e.shape, data_offsets: [pos, pos + chunk.length] };
        parts.push(chunk);
        pos += chunk.length;
        map[n] = shards[s];
      }
      files[shards[s]] = stFile(h, Buffer.concat(parts));
    });
    mut(files, map);
    return files;
  };
  const idx = (map: Record<string, string>) => json({ metadata: {}, weight_map: map });
  add('sharded-valid', sharded((f, m) => (f['model.safetensors.index.json'] = idx(m))), { ok: true });
  add('index-fifo', sharded((f) => (f['model.safetensors.index.json'] = { kind: 'fifo' })), { code: 'not_regular_file' });
  add('index-not-json', sharded((f) => (f['model.safetensors.index.json'] = bytes(`{"weight_map": ${SECRET}`))), { code: 'bad_index' });
  add('index-too-large', sharded((f) => (f['model.safetensors.index.json'] = { kind: 'sparse', size: 64 * 1024 * 1024 + 1 })), { code: 'file_too_large' });
  add('index-traversal', sharded((f, m) => (f['model.safetensors.index.json'] = idx({ ...m, 'wte.weight': '../a.safetensors' }))), { code: 'bad_index' });
  add('index-missing-shard', sharded((f, m) => {
    delete f['b.safetensors'];
    f['model.safetensors.index.json'] = idx(m);
  }), { code: 'missing_shard' }, ['b.safetensors']);
  add('shard-fifo', sharded((f, m) => {
    f['b.safetensors'] = { kind: 'fifo' };
    f['model.safetensors.index.json'] = idx(m);
  }), { code: 'not_regular_file' });
  add('index-wrong-shard', sharded((f, m) => (f['model.safetensors.index.json'] = idx({ ...m, 'wte.weight': 'b.safetensors' }))), { code: 'shard_mismatch' });
  return out;
}

function tokenizerCases(r: Rng, n: number): FuzzCase[] {
  const base = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'gpt2-world-a', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const V = 1024;
  const out: FuzzCase[] = [];
  const catastrophic = ['(a+)+$', '(\\s*)*$', '(\\w+\\s?)*$', '(.*a){12}$'];
  const kinds = [
    'valid', 'vocab-negative', 'vocab-too-big', 'vocab-not-int', 'added-out-of-range', 'added-negative', 'vocab-missing', 'model-not-object',
    'not-json', 'top-array', 'fifo', 'directory', 'missing', 'config-not-json', 'config-fifo', 'safe-regex', 'unigram-too-big', 'too-large',
    'deep-nesting', 'regex-not-string',
  ] as const;
  let cat = 0;
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length];
    const tok = JSON.parse(JSON.stringify(base)) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] } & Record<string, unknown>;
    const keys = Object.keys(tok.model.vocab);
    const key = r.pick(keys);
    let spec: FileSpec | null = null;
    const files: Record<string, FileSpec> = {};
    let expect: Expected = { code: 'bad_token_id' };
    let mentions: string[] | undefined = ['tokenizer.json'];
    switch (kind) {
      case 'valid':
        expect = { ok: true };
        mentions = undefined;
        break;
      case 'vocab-negative':
        tok.model.vocab[key] = -r.int(1, 1e6);
        break;
      case 'vocab-too-big':
        tok.model.vocab[key] = V + r.int(0, 1e6);
        break;
      case 'vocab-not-int':
        (tok.model.vocab as Record<string, unknown>)[key] = r.pick([1.5, '3', null, [3]]);
        break;
      case 'added-out-of-range':
        tok.added_tokens[0].id = V + r.int(0, 100);
        break;
      case 'added-negative':
        tok.added_tokens[0].id = -r.int(1, 100);
        break;
      case 'vocab-missing':
        delete (tok.model as Record<string, unknown>).vocab;
        expect = { code: 'bad_tokenizer' };
        break;
      case 'model-not-object':
        tok.model = r.pick([[], 'BPE', 3, null]) as never;
        expect = { code: 'bad_tokenizer' };
        break;
      case 'not-json': {
        const t = JSON.stringify(tok);
        spec = bytes(r.pick([t.slice(0, r.int(1, t.length - 1)), `{"model": ${SECRET}}`, t + ',']));
        expect = { code: 'bad_tokenizer' };
        break;
      }
      case 'top-array':
        spec = bytes(r.pick(['[]', '[1]', '"x"', '7']));
        expect = { code: 'bad_tokenizer' };
        break;
      case 'fifo':
        spec = { kind: 'fifo' };
        expect = { code: 'not_regular_file' };
        break;
      case 'directory':
        spec = { kind: 'dir' };
        expect = { code: 'not_regular_file' };
        break;
      case 'missing':
        expect = { code: 'not_found' };
        break;
      case 'config-not-json':
        files['tokenizer_config.json'] = bytes(`{"model_max_length": ${SECRET}`);
        expect = { code: 'bad_tokenizer' };
        mentions = ['tokenizer_config.json'];
        break;
      case 'config-fifo':
        files['tokenizer_config.json'] = { kind: 'fifo' };
        expect = { code: 'not_regular_file' };
        mentions = ['tokenizer_config.json'];
        break;
      case 'safe-regex':
        // an unknown pattern: runs under the watchdog, passes the probe, tokenizes
        tok.normalizer = { type: 'Replace', pattern: { Regex: r.pick(['b+', '[0-9]+', 'x{2,3}', '\\s{3,}']) }, content: ' ' };
        expect = { ok: true };
        mentions = undefined;
        break;
      case 'unigram-too-big':
        tok.model = { type: 'Unigram', unk_id: 0, vocab: Array.from({ length: V + r.int(1, 50) }, (_, j) => [`p${j}`, -1]) } as never;
        tok.added_tokens = [];
        break;
      case 'too-large':
        spec = { kind: 'sparse', size: 128 * 1024 * 1024 + r.int(1, 1000) };
        expect = { code: 'file_too_large' };
        break;
      case 'deep-nesting': {
        // a pattern hidden below 64+ Sequence levels must not escape the regex check
        let node: unknown = { type: 'Replace', pattern: { Regex: '(a+)+$' }, content: '' };
        for (let d = 0; d < r.int(65, 200); d++) node = { type: 'Sequence', normalizers: [node] };
        tok.normalizer = node;
        expect = { code: 'bad_tokenizer' };
        break;
      }
      case 'regex-not-string':
        tok.normalizer = { type: 'Replace', pattern: { Regex: r.pick([['(a+)+$'], 7, { source: '(a+)+$' }]) }, content: '' };
        expect = { code: 'bad_tokenizer' };
        break;
    }
    if (kind !== 'missing') files['tokenizer.json'] = spec ?? json(tok);
    out.push({ id: `tok-${String(i).padStart(3, '0')}-${kind}`, target: 'tokenizer', files, vocabSize: V, expect, mentions });
    // a catastrophic regex every few cases (each costs the 1 s probe watchdog)
    if (i % 12 === 11 && cat < catastrophic.length) {
      const t2 = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
      const pattern = catastrophic[cat++];
      if (r.next() < 0.5) t2.normalizer = { type: 'Replace', pattern: { Regex: pattern }, content: '' };
      else t2.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false }, base.pre_tokenizer] };
      out.push({ id: `tok-${String(i).padStart(3, '0')}-catastrophic`, target: 'tokenizer', files: { 'tokenizer.json': json(t2) }, vocabSize: V, expect: { code: 'tokenizer_timeout' }, mentions: ['tokenizer.json', 'backtracks'] });
    }
  }
  return out;
}

function factCases(r: Rng, n: number): FuzzCase[] {
  const subjects = ['Nyxlax Sovhyv', 'Kerknost Paigruth', 'Osaka', 'Shirkche Kenmalflyst', 'Marie Curie', 'Tokyo'];
  const targets = ['Greek', 'oboe', 'France', 'physics', 'Japan', 'Italy'];
  const row = (k: number) => {
    const s = subjects[(k + r.int(0, 5)) % subjects.length];
    return { prompt: `${s} was born in`, subject: s, target_new: targets[k % targets.length], case_id: `c${k}` };
  };
  const csvLine = (o: Record<string, string>) => [o.prompt, o.subject, o.target_new, o.case_id].map((x) => `"${x}"`).join(',');
  const header = 'prompt,subject,target_new,case_id';
  const out: FuzzCase[] = [];
  const kinds = [
    'csv-valid', 'csv-header-only', 'csv-missing-column', 'csv-extra-field', 'csv-empty-target', 'json-valid', 'json-empty', 'json-list-field',
    'json-truncated', 'jsonl-bad-line', 'jsonl-valid', 'binary', 'empty', 'fifo', 'directory', 'too-large', 'zsre-alt-list', 'cf-paraphrase-list',
    'requests-empty',
  ] as const;
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length];
    const k = r.int(1, 6);
    const rows = Array.from({ length: k }, (_, j) => row(i * 10 + j));
    let file = `facts-${i}.csv`;
    let spec: FileSpec;
    let expect: Expected;
    let mentions: string[] | undefined;
    switch (kind) {
      case 'csv-valid':
      {
        const eol = r.pick(['\n', '\r\n']);
        spec = bytes([header, ...rows.map(csvLine)].join(eol) + eol);
      }
        expect = { facts: { requests: k, errors: 0 } };
        break;
      case 'csv-header-only':
        spec = bytes(header + r.pick(['\n', '\r\n', '', '\n\n\n']));
        expect = { facts: { requests: 0, errors: 1, fileError: true } };
        break;
      case 'csv-missing-column':
        spec = bytes(['prompt,subject,case_id', ...rows.map((o) => `"${o.prompt}","${o.subject}",${o.case_id}`)].join('\n'));
        expect = { facts: { requests: 0, errors: 1, fileError: true, fields: ['target_new'] } };
        break;
      case 'csv-extra-field':
        spec = bytes([header, ...rows.map((o, j) => csvLine(o) + (j === 0 ? `,${SECRET}` : ''))].join('\n'));
        expect = { facts: { requests: k - 1, errors: 1 } };
        break;
      case 'csv-empty-target':
        spec = bytes([header, ...rows.map((o, j) => csvLine(j === k - 1 ? { ...o, target_new: '  ' } : o))].join('\n'));
        expect = { facts: { requests: k - 1, errors: 1, fields: ['target_new'] } };
        break;
      case 'json-valid':
        file = `facts-${i}.json`;
        spec = json(rows);
        expect = { facts: { requests: k, errors: 0 } };
        break;
      case 'json-empty':
        file = `facts-${i}.json`;
        spec = bytes(r.pick(['[]', '[ ]', '\n[]\n']));
        expect = { facts: { requests: 0, errors: 1, fileError: true } };
        break;
      case 'requests-empty':
        file = `facts-${i}.json`;
        spec = bytes('{"requests": []}');
        expect = { facts: { requests: 0, errors: 1, fileError: true } };
        break;
      case 'json-list-field': {
        file = `facts-${i}.json`;
        const field = r.pick(['prompt', 'subject', 'target_new'] as const);
        const bad = rows.map((o, j) => (j === 0 ? { ...o, [field]: [o[field], SECRET] } : o));
        spec = json(bad);
        expect = { facts: { requests: k - 1, errors: 1, fields: [field] } };
        break;
      }
      case 'json-truncated': {
        file = `facts-${i}.json`;
        const t = JSON.stringify(rows.map((o) => ({ ...o, note: SECRET })));
        spec = bytes(r.pick([t.slice(0, r.int(2, t.length - 2)), t.replace('"prompt":', `"prompt" ${SECRET}`)]));
        expect = { threw: 'not valid JSON' };
        break;
      }
      case 'jsonl-bad-line': {
        file = `facts-${i}.jsonl`;
        const lines = rows.map((o) => JSON.stringify(o));
        lines.splice(r.int(0, lines.length), 0, `{"prompt": ${SECRET}}`);
        spec = bytes(lines.join('\n'));
        expect = { facts: { requests: k, errors: 1 } };
        break;
      }
      case 'jsonl-valid':
        file = `facts-${i}.jsonl`;
        spec = bytes(rows.map((o) => JSON.stringify(o)).join(r.pick(['\n', '\r\n', '\n\n'])));
        expect = { facts: { requests: k, errors: 0 } };
        break;
      case 'binary': {
        const b = Buffer.alloc(r.int(64, 512));
        for (let j = 0; j < b.length; j++) b[j] = r.int(0, 255);
        b[0] = 0;
        spec = bytes(b);
        expect = { threw: 'not a text file' };
        break;
      }
      case 'empty':
        spec = bytes(r.pick(['', '   ', '\n\n', '\ufeff']));
        expect = { threw: 'the file is empty' };
        break;
      case 'fifo':
        spec = { kind: 'fifo' };
        expect = { code: 'not_regular_file' };
        mentions = [file, 'FIFO'];
        break;
      case 'directory':
        spec = { kind: 'dir' };
        expect = { code: 'not_regular_file' };
        break;
      case 'too-large':
        spec = { kind: 'sparse', size: 256 * 1024 * 1024 + r.int(1, 4096) };
        expect = { code: 'file_too_large' };
        break;
      case 'zsre-alt-list':
        file = `facts-${i}.json`;
        spec = json(rows.map((o, j) => ({ subject: o.subject, src: o.prompt, alt: j === 0 ? [o.target_new, SECRET] : o.target_new, answers: ['x'], case_id: o.case_id })));
        expect = { facts: { requests: k - 1, errors: 1, fields: ['alt'] } };
        break;
      case 'cf-paraphrase-list':
        file = `facts-${i}.json`;
        spec = json(
          rows.map((o) => ({
            case_id: o.case_id,
            requested_rewrite: { prompt: '{} was born in', subject: o.subject, target_new: { str: o.target_new }, target_true: { str: 'Nowhere' } },
            paraphrase_prompts: [`${o.subject} comes from`, `Where was ${o.subject} born?`],
          })),
        );
        expect = { facts: { requests: k, errors: 0 } };
        break;
    }
    out.push({ id: `facts-${String(i).padStart(3, '0')}-${kind}`, target: 'facts', files: { [file]: spec! }, factsFile: file, expect: expect!, mentions });
  }
  return out;
}

/**
 * The hostile inputs of issue 19, each once: NaN deep inside a tensor (found only by the import's full read), config
 * values that ran a different model, tokenizers whose replacements multiply text, and fact files with values that were
 * coerced (numbers, duplicate keys, bytes that are not UTF-8, control characters). Their own PRNG, so adding them
 * leaves every earlier case as it was.
 */
function issue19Cases(): FuzzCase[] {
  const r = rng(19);
  const out: FuzzCase[] = [];
  // ---- NaN / Inf where the open-time sample does not look: wte [1024, 4] (16 KiB), values at 25 % and 30 %
  const bigWte = gpt2Tensors().map((t) => (t.name === 'wte.weight' ? { ...t, shape: [1024, 4] } : t));
  const cfg = { ...GPT2_CFG, vocab_size: 1024 };
  for (const [frac, dtype, bits] of [[0.25, 'F32', 0x7fc00000], [0.3, 'F32', 0x7f800000], [0.3, 'BF16', 0x7fc0]] as const) {
    const ts = dtype === 'F32' ? bigWte : bigWte.map((t) => (t.name === 'wte.weight' ? { ...t, dtype: 'BF16' } : t));
    const { header, data } = layout(ts, r);
    const at = (header['wte.weight'] as { data_offsets: number[] }).data_offsets[0];
    const index = Math.floor(4096 * frac);
    if (dtype === 'BF16') {
      for (let k = 0; k < 4096; k++) data.writeUInt16LE(0x3f80, at + 2 * k); // 1.0: layout's f32 halves could hold NaN bits
      data.writeUInt16LE(bits, at + 2 * index);
    } else data.writeUInt32LE(bits, at + 4 * index);
    out.push({
      id: `i19-nan-${dtype}-${frac * 100}pct`,
      target: 'import',
      files: { 'config.json': json(cfg), 'model.safetensors': stFile(header, data) },
      expect: { code: 'non_finite' },
      mentions: ['model.safetensors', '"wte.weight"', `element ${index} of 4096`],
    });
  }
  // ---- config.json values that silently ran a different model
  const cfgCase = (id: string, change: Record<string, unknown>, expect: Expected, mentions: string[]) => {
    const { header, data } = layout(gpt2Tensors(), r);
    out.push({ id: `i19-config-${id}`, target: 'checkpoint', files: { 'config.json': json({ ...GPT2_CFG, ...change }), 'model.safetensors': stFile(header, data) }, expect, mentions: ['config.json', ...mentions] });
  };
  cfgCase('n-layer-below', { n_layer: 1 }, { code: 'bad_config' }, ['n_layer is 1', '2 layers']);
  cfgCase('eps-huge', { layer_norm_epsilon: 1e308 }, { code: 'bad_config' }, ['layer_norm_epsilon']);
  cfgCase('eps-one', { layer_norm_epsilon: 1 }, { code: 'bad_config' }, ['layer_norm_epsilon']);
  cfgCase('activation-null', { activation_function: null }, { code: 'bad_config' }, ['activation_function']);
  cfgCase('activation-unknown', { activation_function: 'relu' }, { code: 'unsupported_config' }, ['activation_function', 'relu']);
  cfgCase('architectures-garbage', { architectures: ['GarbageForCausalLM'] }, { code: 'unsupported_arch' }, ['architectures']);
  cfgCase('architectures-string', { architectures: 'GPT2LMHeadModel' }, { code: 'bad_config' }, ['architectures']);
  cfgCase('architectures-foreign', { architectures: ['LlamaForCausalLM'] }, { code: 'bad_config' }, ['architectures', 'model_type is gpt2']);
  // ---- tokenizers whose normalizer / decoder multiplies text
  const base = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'gpt2-world-a', 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  const tok = (id: string, change: Record<string, unknown>, expect: Expected, mentions?: string[]) =>
    out.push({ id: `i19-tok-${id}`, target: 'tokenizer', files: { 'tokenizer.json': json({ ...base, ...change }) }, vocabSize: 1024, expect, mentions });
  const double = { type: 'Replace', pattern: { String: ' ' }, content: '  ' };
  tok('space-bomb-40', { normalizer: { type: 'Sequence', normalizers: Array.from({ length: 40 }, () => double) } }, { code: 'tokenizer_unsafe' }, ['tokenizer.json', '(40 times)']);
  let nested: unknown = { type: 'Sequence', normalizers: [double, double] };
  for (let k = 1; k < 20; k++) nested = { type: 'Sequence', normalizers: [double, nested, double] };
  tok('space-bomb-nested', { normalizer: nested }, { code: 'tokenizer_unsafe' }, ['tokenizer.json']);
  tok('replacement-pattern', { normalizer: { type: 'Replace', pattern: { String: 'a' }, content: '$`' } }, { code: 'tokenizer_unsafe' }, ['grow without bound', '$`']);
  tok('empty-pattern', { normalizer: { type: 'Sequence', normalizers: Array.from({ length: 8 }, () => ({ type: 'Replace', pattern: { String: '' }, content: 'x' })) } }, { code: 'tokenizer_unsafe' });
  tok('decoder-bomb', { decoder: { type: 'Sequence', decoders: Array.from({ length: 30 }, () => ({ type: 'Replace', pattern: { String: 'a' }, content: 'aa' })) } }, { code: 'tokenizer_unsafe' }, ['decoder']);
  tok('pre-tokenizer-bomb', { pre_tokenizer: { type: 'Sequence', pretokenizers: [...Array.from({ length: 12 }, () => ({ type: 'Replace', pattern: { String: ' ' }, content: '   ' })), base.pre_tokenizer] } }, { code: 'tokenizer_unsafe' });
  tok('mild-growth', { normalizer: { type: 'Replace', pattern: { String: ' ' }, content: '  ' } }, { ok: true });
  // ---- fact files: nothing coerced
  const row = (k: number, o: Record<string, unknown> = {}) => ({ prompt: `Person ${k} was born in`, subject: `Person ${k}`, target_new: `City ${k}`, case_id: `i19-${k}`, ...o });
  const facts = (id: string, name: string, data: Buffer | string, expect: Expected) =>
    out.push({ id: `i19-facts-${id}`, target: 'facts', files: { [name]: bytes(data) }, factsFile: name, expect });
  facts('number-target', 'n.json', JSON.stringify([row(1), row(2, { target_new: 1984 })]), { facts: { requests: 1, errors: 1, fields: ['target_new'] } });
  facts('object-prompt', 'o.json', JSON.stringify([row(1, { prompt: { str: 'Person 1 was born in' } }), row(2)]), { facts: { requests: 1, errors: 1, fields: ['prompt'] } });
  facts('bool-subject', 'b.jsonl', [row(1, { subject: false }), row(2)].map((x) => JSON.stringify(x)).join('\n'), { facts: { requests: 1, errors: 1, fields: ['subject'] } });
  facts('duplicate-key', 'd.json', `[${JSON.stringify(row(1))}, {"prompt": "Person 2 was born in", "subject": "Person 2", "subject": "${SECRET}", "target_new": "x", "case_id": "i19-2"}]`, { facts: { requests: 1, errors: 1, fields: ['subject'] } });
  facts('duplicate-top', 'dt.json', `{"requests": [${JSON.stringify(row(1))}], "requests": [${JSON.stringify(row(2))}]}`, { facts: { requests: 0, errors: 1, fileError: true } });
  facts('latin1', 'l.csv', Buffer.concat([Buffer.from('prompt,subject,target_new\nPerson 1 was born in,Person 1,Z'), Buffer.from([0xfc]), Buffer.from('rich\nPerson 2 was born in,Person 2,Bern\n')]), { facts: { requests: 1, errors: 1, fields: ['target_new'] } });
  facts('truncated-utf8', 't.jsonl', Buffer.concat([Buffer.from(JSON.stringify(row(1)) + '\n{\"prompt\": "Person 2 was born in", "subject": "Person 2", "target_new": "caf'), Buffer.from([0xc3]), Buffer.from('\"}\n')]), { facts: { requests: 1, errors: 1, fields: ['target_new'] } });
  facts('control-csv', 'c.csv', 'prompt,subject,target_new\nPerson 1 was born in,Person\u00011,Oslo\nPerson 2 was born in,Person 2,Bern\n', { facts: { requests: 1, errors: 1, fields: ['subject'] } });
  facts('control-json-escape', 'c.json', JSON.stringify([row(1, { target_new: 'Os\u001blo' }), row(2, { rephrase_prompt: ['ok', 'del\u007f'] })]), { facts: { requests: 0, errors: 2, fields: ['target_new', 'rephrase_prompt'] } });
  facts('lone-surrogate-escape', 's.json', `[{"prompt": "Person 1 was born in", "subject": "Person 1", "target_new": "\\ud800x", "case_id": "a"}]`, { facts: { requests: 0, errors: 1, fields: ['target_new'] } });
  return out;
}

/** The whole corpus for one seed (same seed, same cases, same files). */
export function buildCorpus(seed = 20261127): FuzzCase[] {
  const r = rng(seed);
  return [...safetensorsCases(r, 132), ...configCases(r, 72), ...folderCases(r), ...tokenizerCases(r, 60), ...factCases(r, 76), ...issue19Cases(), ...ledgerCases(seed ^ 0x1ed9e7)];
}
