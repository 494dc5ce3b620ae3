// The Electron window's security decisions as pure functions (no Electron import), so they are
// unit-tested without an Electron binary (tests/electron/security.test.ts):
//   - the renderer is served from the custom scheme app://eac/ (standard + secure), not file://,
//     so a real Content-Security-Policy header applies and file:// gets no extra privileges;
//   - navigation, redirects and frame navigations are allowed only to that exact origin, compared
//     on the parsed URL (scheme, host, no port/credentials), never by string prefix;
//   - IPC is accepted only from the top frame showing app://eac/index.html.
import { contentType, resolveInside } from '../host/static-files';

export const APP_SCHEME = 'app';
export const APP_HOST = 'eac';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/** Privileges of app:// (protocol.registerSchemesAsPrivileged, before the app is ready). */
export const APP_SCHEME_PRIVILEGES = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
} as const;

/** The renderer's policy: only its own scripts and styles, no network (the Electron transport is IPC). */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Headers of every app:// response. */
export function appResponseHeaders(file: string): Record<string, string> {
  return {
    'content-type': contentType(file),
    'content-security-policy': APP_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

/**
 * The origin of a URL as scheme://host[:port], computed from the parsed URL (WHATWG URL reports
 * 'null' as the origin of non-special schemes such as app:, so it is built from the parts), or null
 * for an unparsable URL or one carrying credentials.
 */
export function originOf(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.username || u.password) return null;
  if (!u.host) return null;
  return `${u.protocol}//${u.host}`;
}

/** true only for URLs of exactly the app's origin (app://eac, no port, no credentials). */
export function isAppUrl(url: string): boolean {
  return originOf(url) === APP_ORIGIN;
}

/** will-navigate / will-redirect / will-frame-navigate: stay inside the app. */
export function allowNavigation(url: string): boolean {
  return isAppUrl(url);
}

/** The IPC sender check: the app's own index page, in a top-level frame. */
export function isTrustedSender(frameUrl: string | undefined, isTopFrame: boolean): boolean {
  if (!isTopFrame || !frameUrl) return false;
  if (!isAppUrl(frameUrl)) return false;
  const u = new URL(frameUrl);
  return u.pathname === '/' || u.pathname === '/index.html';
}

/** The file under `rendererDir` an app:// request names, or null (other origin, traversal, malformed). */
export function resolveAppFile(rendererDir: string, requestUrl: string): string | null {
  if (!isAppUrl(requestUrl)) return null;
  return resolveInside(rendererDir, new URL(requestUrl).pathname);
}
