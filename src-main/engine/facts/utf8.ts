// Decoding a fact file's bytes (issue 19). Buffer.toString('utf8') turns every byte that is not valid UTF-8 into
// U+FFFD without a word, so a Latin-1 "Léon" imported as "L\ufffdn". The fast path decodes strictly; a file that
// fails it is decoded again with each offending byte kept as a lone low surrogate U+DC80..U+DCFF (Python's
// "surrogateescape"): valid UTF-8 never decodes to a lone surrogate, so validate.ts can tell exactly which row
// and field held the bad byte, and say which byte it was, instead of rejecting the whole file or guessing.

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of `buf` (a UTF-8 BOM removed); bytes that are not UTF-8 become U+DC00 + byte. */
export function decodeUtf8Escaped(buf: Uint8Array): string {
  const start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  const body = buf.subarray(start);
  try {
    return strict.decode(body);
  } catch {
    return escapedDecode(body);
  }
}

/** Where a sequence starting with lead byte `b` may have its second byte (Unicode table 3-7), and its length. */
function shape(b: number): { len: number; lo: number; hi: number } | null {
  if (b >= 0xc2 && b <= 0xdf) return { len: 2, lo: 0x80, hi: 0xbf };
  if (b === 0xe0) return { len: 3, lo: 0xa0, hi: 0xbf };
  if (b === 0xed) return { len: 3, lo: 0x80, hi: 0x9f }; // no UTF-16 surrogates encoded in UTF-8
  if (b >= 0xe1 && b <= 0xef) return { len: 3, lo: 0x80, hi: 0xbf };
  if (b === 0xf0) return { len: 4, lo: 0x90, hi: 0xbf };
  if (b === 0xf4) return { len: 4, lo: 0x80, hi: 0x8f };
  if (b >= 0xf1 && b <= 0xf3) return { len: 4, lo: 0x80, hi: 0xbf };
  return null;
}

function escapedDecode(buf: Uint8Array): string {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const parts: string[] = [];
  let run = 0; // start of the current run of valid bytes
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const s = shape(c);
    let ok = s !== null && i + s.len <= n;
    if (ok) {
      if (b[i + 1] < s!.lo || b[i + 1] > s!.hi) ok = false;
      for (let k = 2; ok && k < s!.len; k++) if (b[i + k] < 0x80 || b[i + k] > 0xbf) ok = false;
    }
    if (ok) {
      i += s!.len;
      continue;
    }
    // one bad byte: keep what came before, escape this byte, and look at the next one afresh
    if (run < i) parts.push(b.toString('utf8', run, i));
    parts.push(String.fromCharCode(0xdc00 + c));
    i++;
    run = i;
  }
  if (run < n) parts.push(b.toString('utf8', run, n));
  return parts.join('');
}
