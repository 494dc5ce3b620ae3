// Serving the built renderer: content types and the one path resolution both UI transports use
// (the headless server over http://, the Electron app over app://). A request path never leaves the
// renderer folder: it is percent-decoded once, must not contain NUL, and the resolved absolute path
// must lie inside the folder (checked on the resolved path, not by string tests on the raw URL).
import path from 'node:path';

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

export function contentType(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/** Why a request path names no file inside the folder: bad %-escapes, or it leaves the folder / has NUL or '\\'. */
export type StaticRefusal = 'malformed' | 'outside';

/**
 * The file inside `rootDir` that the URL path `pathname` (still percent-encoded, as in URL.pathname)
 * names, or why it names none. '/' is index.html.
 */
export function resolveRequestPath(rootDir: string, pathname: string): { file: string } | { refused: StaticRefusal } {
  let rel: string;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return { refused: 'malformed' }; // malformed percent-encoding
  }
  if (rel.includes('\0') || rel.includes('\\')) return { refused: 'outside' };
  if (rel === '' || rel === '/') rel = '/index.html';
  if (!rel.startsWith('/')) return { refused: 'outside' };
  const file = path.resolve(rootDir, '.' + rel);
  return isInside(rootDir, file) ? { file } : { refused: 'outside' };
}

/** resolveRequestPath's file, or null when it names none (malformed or outside the folder). */
export function resolveInside(rootDir: string, pathname: string): string | null {
  const r = resolveRequestPath(rootDir, pathname);
  return 'file' in r ? r.file : null;
}

/** true when `file` (absolute) lies strictly inside `rootDir` (compare real paths to rule out symlinks). */
export function isInside(rootDir: string, file: string): boolean {
  const inside = path.relative(path.resolve(rootDir), path.resolve(file));
  return inside !== '' && !inside.startsWith('..') && !path.isAbsolute(inside);
}
