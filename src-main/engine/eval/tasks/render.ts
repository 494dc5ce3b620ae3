import { EacError } from '../../errors';

/** A task file that cannot be read as tasks: code 'bad_task', the one problem also in detail.issues (as the schema's errors). */
const badTask = (message: string) => new EacError('bad_task', message, { detail: { issues: [message] } });
/**
 * Prompt templates: `{field}` is replaced by the example's field (field = identifier),
 * `{{` and `}}` are literal braces; any other brace is a template error. Field values are
 * inserted verbatim (no trimming, no escaping), so the rendered prompt is exactly
 * template-with-values — the paper's prompts rely on that.
 */

type Part = { text: string } | { field: string };

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let buf = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === '{') {
      if (template[i + 1] === '{') {
        buf += '{';
        i += 2;
        continue;
      }
      const end = template.indexOf('}', i + 1);
      const name = end < 0 ? '' : template.slice(i + 1, end);
      if (end < 0 || !IDENT.test(name))
        throw badTask(
          `bad placeholder at position ${i} (use {field} with a field name of letters, digits and _; write {{ for a literal brace)`,
        );
      if (buf) parts.push({ text: buf });
      buf = '';
      parts.push({ field: name });
      i = end + 1;
    } else if (c === '}') {
      if (template[i + 1] === '}') {
        buf += '}';
        i += 2;
        continue;
      }
      throw badTask(`unmatched "}" at position ${i} (write }} for a literal brace)`);
    } else {
      buf += c;
      i++;
    }
  }
  if (buf) parts.push({ text: buf });
  return parts;
}

/** Field names used by a template, in first-use order, without duplicates. Throws on a bad template. */
export function templateFields(template: string): string[] {
  const out: string[] = [];
  for (const p of parseTemplate(template)) if ('field' in p && !out.includes(p.field)) out.push(p.field);
  return out;
}

/** Fill a template. Throws if a field is missing or is not a string/number. */
export function renderTemplate(template: string, fields: Record<string, unknown>): string {
  let s = '';
  for (const p of parseTemplate(template)) {
    if ('text' in p) {
      s += p.text;
      continue;
    }
    const v = fields[p.field];
    if (typeof v === 'string') s += v;
    else if (typeof v === 'number') s += String(v);
    else if (v === undefined) throw badTask(`template field "${p.field}" is missing`);
    else throw badTask(`template field "${p.field}" must be a string or number`);
  }
  return s;
}

/** Render the prompt of one example of a task. */
export function renderPrompt(task: { template: string }, example: Record<string, unknown>): string {
  return renderTemplate(task.template, example);
}
