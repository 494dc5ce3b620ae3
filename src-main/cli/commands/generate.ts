import { choiceOption, defineCommand, intOption, printJson, requireString } from '../command';
import { DEVICES, withModel } from '../engine';
import { ProgressPrinter } from '../progress';

export default defineCommand({
  name: 'generate',
  summary: 'greedy generation from a prompt',
  usage: `generate --model DIR --prompt TEXT [--max-new-tokens N] [--json] [--device ${DEVICES.join('|')}] [--ignore-eos]`,
  help: [
    'Options:',
    '  --model DIR            Hugging Face folder',
    '  --prompt TEXT          prompt text; "" starts from BOS only. A prompt beginning with "-"',
    '                         must be written --prompt=-TEXT',
    '  --max-new-tokens N     tokens to generate (default 20)',
    '  --json                 print {"ids": [prompt + new], "new_ids": [...], "text": "..."}; progress as',
    '                         JSON lines on stderr ({"type":"progress","phase","done","total","unit","eta_ms"})',
    '  --device D             cpu (default), webgpu or cuda; falls back to cpu with a note on stderr',
    '  --ignore-eos           keep generating after the EOS token (default: stop there, like HF generate)',
    '',
    'Prompt ids are what the tokenizer produces, special tokens included (LLaMA tokenizers add BOS).',
    'An empty prompt becomes the BOS token: for LLaMA the tokenizer adds it; GPT-2 tokenizers add',
    'nothing, so config.json bos_token_id is used, as transformers\' generate() does.',
    '"text" is the decoded new tokens with special tokens skipped.',
    'Progress (a session build, then one count per generated token, with its ETA) goes to stderr: a',
    'bar on a terminal, else a line per tenth.',
  ].join('\n'),
  options: {
    model: { type: 'string', multiple: true },
    prompt: { type: 'string', multiple: true },
    'max-new-tokens': { type: 'string', multiple: true },
    json: { type: 'boolean' },
    device: { type: 'string', multiple: true },
    'ignore-eos': { type: 'boolean' },
  },
  async run(values, _pos, io) {
    const dir = requireString(values, 'model');
    const prompt = requireString(values, 'prompt');
    const maxNewTokens = intOption(values, 'max-new-tokens', { min: 0, max: 100_000, default: 20 });
    const device = choiceOption(values, 'device', DEVICES, 'cpu');
    const progress = ProgressPrinter.forIO(io, !!values.json);
    await withModel(io, dir, device, async (engine) => {
      let row;
      try {
        [row] = await engine.call('generate', { prompts: [prompt], maxNewTokens, stopAtEos: !values['ignore-eos'] }, (e) =>
          progress.update({ phase: e.phase, ...(e.count ? { count: e.count } : {}), ...(e.message !== undefined ? { message: e.message } : {}) }),
        );
      } finally {
        progress.end();
      }
      if (values.json) printJson(io, { ids: row.ids, new_ids: row.newIds, text: row.text });
      else io.out(prompt + row.text + '\n');
    });
  },
});
