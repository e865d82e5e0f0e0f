import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../config/cross-checks.js';

/**
 * Headers on every response. The page loads only its own scripts, styles and images (no inline code),
 * cannot be framed, and the browser must not guess content types.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
});

/** Smallest token accepted: guessing 16 random characters over the network is hopeless. */
export const MIN_TOKEN_LENGTH = 16;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * True when the request carries the token: `Authorization: Bearer <token>` (Prometheus, curl, scripts)
 * or HTTP Basic with the token as the password (browsers, which cannot add a bearer header to an <img>;
 * the 401 challenge makes them ask once). Compared in constant time over fixed-length digests.
 */
export function hasToken(req: IncomingMessage, token: string): boolean {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || h.length > 4096) return false;
  const m = /^(Bearer|Basic)[ ]+(\S+)[ ]*$/i.exec(h);
  if (!m) return false;
  let presented = m[2]!;
  if (m[1]!.toLowerCase() === 'basic') {
    const decoded = Buffer.from(presented, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    presented = decoded.slice(colon + 1);
  }
  return timingSafeEqual(digest(presented), digest(token));
}

/**
 * Without a token the server is loopback-only; a web page elsewhere could still reach it through DNS
 * rebinding (a name that resolves to 127.0.0.1), which the Host header gives away. Only loopback names
 * are accepted then.
 */
export function hostAllowed(req: IncomingMessage): boolean {
  const host = req.headers.host;
  if (typeof host !== 'string' || host === '') return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(host);
  if (!m) return false;
  return isLoopbackHost(m[1]!);
}

/** The path of an origin-form request target (`/a/b?x`), or null for anything else (absolute-form, `*`, `//x`). */
export function requestPath(url: string | undefined): string | null {
  if (typeof url !== 'string' || !url.startsWith('/') || url.startsWith('//')) return null;
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}
