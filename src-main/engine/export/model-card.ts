// The README.md (model card) of an export. Copying the base's card would describe a model the export
// no longer is (issue 11: "the export README is the base model's"); dropping it would lose the base's
// licence and YAML metadata. So the export's card keeps the base's front matter (licence, tags),
// says what changed — method, layers and cases of every live edit, and where the manifest is — and
// keeps the base card's body below, marked as the base's.
import type { ExportedEdit, OmittedFile } from './types';

export interface CardInput {
  /** the base model folder's name (never an absolute path: the card travels with the export) */
  baseName: string;
  arch: string;
  /** the base card's text, when the base folder has a README.md */
  baseCard: string | null;
  edits: readonly ExportedEdit[];
  editedTensors: readonly string[];
  /** what of the base folder the export left out (weights in another format, sub-folders); none: no line */
  omitted?: readonly OmittedFile[];
  createdAt: string;
}

/** YAML front matter (--- … ---) at the very start of a card, and the rest. */
export function splitFrontMatter(card: string): { front: string | null; body: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(card);
  if (!m) return { front: null, body: card };
  return { front: m[1], body: card.slice(m[0].length) };
}

/** Table cells may not break the table: pipes escaped, newlines flattened. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function exportModelCard(c: CardInput): string {
  const { front, body } = c.baseCard === null ? { front: null, body: '' } : splitFrontMatter(c.baseCard);
  const out: string[] = [];
  if (front !== null) out.push('---', front, '---', '');
  out.push(
    `# ${c.baseName} — edited with EAC Studio`,
    '',
    `This folder is **${c.baseName}** (${c.arch}) with ${c.edits.length} fact edit(s) written into its weights ` +
      `(${c.createdAt}). Only the MLP output projections listed below differ from the base; every other tensor ` +
      'is copied byte for byte. `edits.json` is the manifest: the base files\' sha256, every edit, and the sha256 ' +
      'of every file in this folder.',
    '',
    `Edited tensors: ${c.editedTensors.length ? c.editedTensors.map((t) => '`' + t + '`').join(', ') : 'none'}.`,
    '',
  );
  if (c.omitted?.length) {
    // one line: a reader who expects e.g. tf_model.h5 learns it was left out on purpose, and why
    const list = c.omitted.map((f) => '`' + f.file + '` (' + cell(f.reason.replace(/:.*$/, '')) + ')').join(', ');
    const why = [
      ...(c.omitted.some((f) => !f.file.endsWith('/')) ? ['weights in another format hold the unedited base model, which a loader could pick instead of the edited safetensors'] : []),
      ...(c.omitted.some((f) => f.file.endsWith('/')) ? ['only top-level files are copied'] : []),
    ];
    out.push(`Left out of this export: ${list}; ${why.join('; ')} (edits.json \`omitted\`).`, '');
  }
  if (c.edits.length) {
    out.push('| seq | edit | method | layers | cases |', '|---|---|---|---|---|');
    for (const e of c.edits) {
      const cases = e.caseIds.length > 6 ? `${e.caseIds.slice(0, 6).join(', ')}, … (${e.caseIds.length})` : e.caseIds.join(', ');
      out.push(`| ${e.seq} | ${e.id}${e.approximate ? ' (approximate removal before it)' : ''} | ${cell(String(e.method))} | ${e.layers.join(', ')} | ${cell(cases)} |`);
    }
    out.push('');
  }
  if (c.baseCard !== null) {
    out.push('## The base model\'s card', '', '_Below is the card of the unedited base model; the edits above are not reflected in it._', '', body.trim(), '');
  }
  return out.join('\n');
}
