import { choiceOption, defineCommand, intOption, printJson, requireString } from '../command';
import { DEVICES, withModel } from '../engine';

export default defineCommand({
  name: 'logits',
  summary: 'next-token logits after a prompt (last position)',
  usage: `logits --model DIR --prompt TEXT [--json] [--top K] [--device ${DEVICES.join('|')}]`,
  help: [
    'Options:',
    '  --model DIR      Hugging Face folder',
    '  --prompt TEXT    prompt text ("" = BOS only, see `eac generate --help`)',
    '  --json           print {"ids": [...], "last_logits": [... vocab floats]}',
    '  --top K          without --json: how many top tokens to list (default 10)',
    '  --device D       cpu (default), webgpu or cuda',
  ].join('\n'),
  options: {
    model: { type: 'string', multiple: true },
    prompt: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    top: { type: 'string', multiple: true },
    device: { type: 'string', multiple: true },
  },
  async run(values, _pos, io) {
    const dir = requireString(values, 'model');
    const prompt = requireString(values, 'prompt');
    const k = intOption(values, 'top', { min: 1, default: 10 });
    const device = choiceOption(values, 'device', DEVICES, 'cpu');
    await withModel(io, dir, device, async (engine) => {
      if (values.json) {
        const r = await engine.call('logits', { prompt });
        printJson(io, { ids: r.ids, last_logits: r.lastLogits });
        return;
      }
      const r = await engine.call('topk', { prompt, k });
      const lines = [`ids ${JSON.stringify(r.ids)}`, 'rank  id      logit     prob  token'];
      r.top.forEach((t, i) =>
        lines.push(
          `${String(i + 1).padStart(4)}  ${String(t.id).padEnd(6)} ${t.logit.toFixed(4).padStart(8)} ${t.prob.toFixed(4).padStart(8)}  ${JSON.stringify(t.token)}`,
        ),
      );
      io.out(lines.join('\n') + '\n');
    });
  },
});
