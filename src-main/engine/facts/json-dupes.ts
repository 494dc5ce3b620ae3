// Duplicate keys in JSON objects (issue 19). JSON.parse keeps the last of two equal keys without a word, so
// `{"subject": "Tokyo", ..., "subject": "Osaka"}` imported an edit of Osaka from a row that reads like one of Tokyo.
// This scan runs over text JSON.parse has already accepted, in one linear pass (strings are skipped with one sticky
// regular expression each), and reports where each repeated key is: the path of array indexes and keys down to the
// object that holds it, and the key.

export interface DuplicateKey {
  /** array indexes and object keys from the top of the document down to the object holding the key */
  path: (string | number)[];
  key: string;
}

type Frame = { obj: true; keys: Set<string>; key: string | null; expectKey: boolean } | { obj: false; index: number };

const STRING = /"(?:[^"\\]|\\.)*"/y;

/** Every repeated key of `text` (valid JSON), in document order, at most `limit` of them. */
export function duplicateKeys(text: string, limit = 1000): DuplicateKey[] {
  const out: DuplicateKey[] = [];
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n && out.length < limit) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      STRING.lastIndex = i;
      const m = STRING.exec(text);
      if (!m) return out; // not valid JSON after all: JSON.parse reports it
      const top = stack[stack.length - 1];
      if (top && top.obj && top.expectKey) {
        const raw = m[0];
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys.has(key)) out.push({ path: stack.slice(0, -1).map((f) => (f.obj ? (f.key ?? '') : f.index)), key });
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = STRING.lastIndex;
      continue;
    }
    if (c === 0x7b /* { */) stack.push({ obj: true, keys: new Set(), key: null, expectKey: true });
    else if (c === 0x5b /* [ */) stack.push({ obj: false, index: 0 });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top) {
        if (top.obj) top.expectKey = true;
        else top.index++;
      }
    }
    i++;
  }
  return out;
}
