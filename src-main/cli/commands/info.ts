import { choiceOption, defineCommand, printJson, requireString, UsageError } from '../command';
import { withModel } from '../engine';
import { DEVICES } from '../../engine/devices';
import type { ModelInfo, PlacementInfo } from '../../jobs/protocol';

function human(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

export function formatPlacement(p: PlacementInfo): string {
  const lines = [
    `placement    one token on ${p.device}: ${Object.entries(p.byProvider)
      .map(([prov, n]) => `${n} node(s) on ${prov}`)
      .join(', ')}`,
    `  on the CPU ${Object.entries(p.cpuOps).map(([op, n]) => `${op} × ${n}`).join(', ') || 'nothing'}`,
    `  reading a weight on the CPU: ${p.cpuWeightNodes.length ? p.cpuWeightNodes.join(', ') : 'none'}`,
  ];
  if (p.resident) lines.push(`  on the device: ${p.resident.tensors} weight tensor(s), ${bytes(p.resident.bytes)} of ${bytes(p.resident.modelBytes)}`);
  return lines.join('\n') + '\n';
}

export function formatInfo(info: ModelInfo): string {
  const s = info.sizes;
  const lines = [
    `model        ${info.dir}`,
    `architecture ${info.arch} (${info.architectures.join(', ') || info.modelType || 'unknown class'})`,
    `sizes        layers ${s.layers}, hidden ${s.hidden}, heads ${s.heads} (kv ${s.kvHeads}, head dim ${s.headDim}), ffn ${s.ffn}, vocab ${s.vocabSize}, positions ${s.maxPositions}`,
    `details      activation ${info.activation}, norm eps ${info.normEps}` +
      (info.ropeTheta !== undefined ? `, rope theta ${info.ropeTheta}` : '') +
      `, head ${info.tiedHead ? 'tied to embeddings' : 'separate'}` +
      `, bos ${info.bosTokenId ?? '-'}, eos ${info.eosTokenId ?? '-'}`,
    `parameters   ${info.parameters} (${human(info.parameters)})`,
    `dtypes       ${Object.entries(info.dtypes)
      .map(([d, n]) => `${d} × ${n}`)
      .join(', ')}`,
    `files        ${info.files.map((f) => `${f.name} (${bytes(f.bytes)})`).join(', ')}`,
    `tensors      ${info.tensorCount}`,
  ];
  const w = Math.max(...info.tensors.map((t) => t.name.length));
  for (const t of info.tensors) lines.push(`  ${t.name.padEnd(w)}  ${t.dtype.padEnd(4)} [${t.shape.join(', ')}]  ${t.file}`);
  return lines.join('\n') + '\n';
}

export default defineCommand({
  name: 'info',
  summary: 'show a model folder: architecture, sizes, dtypes, tensors, parameters, files',
  usage: `info --model DIR [--json] [--placement --device ${DEVICES.join('|')}]`,
  help: [
    'Options:',
    '  --model DIR   Hugging Face folder (config.json + safetensors + tokenizer.json)',
    '  --json        print the engine\'s ModelInfo object as JSON',
    '  --placement   also run one token on --device with onnxruntime\'s profiler and print which',
    '                provider each node ran on, the nodes placed on the CPU, and the weights the device holds',
    '  --device D    the device for --placement (default cpu)',
  ].join('\n'),
  options: {
    model: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    placement: { type: 'boolean' },
    device: { type: 'string', multiple: true },
  },
  async run(values, _pos, io) {
    const dir = requireString(values, 'model');
    const device = choiceOption(values, 'device', DEVICES, 'cpu');
    if (values.device && !values.placement) throw new UsageError('usage', '--device only applies with --placement (info itself runs no model)');
    await withModel(io, dir, values.placement ? device : 'cpu', async (engine, info) => {
      const placement = values.placement ? await engine.call('placement', {}) : undefined;
      if (values.json) printJson(io, placement ? { ...info, placement } : info);
      else io.out(formatInfo(info) + (placement ? formatPlacement(placement) : ''));
    });
  },
});
