/**
 * Browser sessions for the web UI: a signed, stateless cookie value naming the user (empty for an
 * anonymous visitor), a random per-session nonce and an expiry, MAC'd with HMAC-SHA256 under a key
 * every node shares — derived from the token-signing key kept in storage when auth is on, else
 * from `http.secret` — so a session opened through one node is accepted by every other and no
 * session state is stored anywhere. The cookie identifies the user only: what the user may do is
 * decided by the access controller on every request.
 *
 * CSRF: every state-changing UI request carries a token bound to the session's nonce
 * (HMAC of the nonce under the same key, a "signed double submit"); a new nonce is drawn at sign-in
 * and sign-out, so a token never outlives its session.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SigningKey } from './signing-key.js';

export interface Session {
  /** The signed-in user; empty for an anonymous visitor. */
  readonly subject: string;
  readonly nonce: string;
  /** Expiry, seconds since the epoch. */
  readonly expires: number;
}

export interface SessionSigner {
  /** A new session (fresh nonce) for the subject. */
  create(subject: string): Session;
  /** The cookie value for a session. */
  encode(session: Session): string;
  /** The session a cookie value carries, if the MAC is right and it has not expired. */
  decode(value: string | undefined): Session | undefined;
  /** The CSRF token forms of this session must send back. */
  csrfToken(session: Session): string;
  checkCsrf(session: Session, token: string | undefined): boolean;
  /** Seconds a new session lasts. */
  readonly lifetimeSeconds: number;
}

const MAX_COOKIE = 2048;

function macEquals(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createSessionSigner(key: Buffer, options: { readonly lifetimeSeconds?: number; readonly now?: () => number } = {}): SessionSigner {
  const lifetimeSeconds = options.lifetimeSeconds ?? 8 * 3600;
  const now = options.now ?? Date.now;
  const mac = (label: string, payload: string): Buffer => createHmac('sha256', key).update(label).update('\0').update(payload).digest();
  return {
    lifetimeSeconds,
    create(subject) {
      return { subject, nonce: randomBytes(18).toString('base64url'), expires: Math.floor(now() / 1000) + lifetimeSeconds };
    },
    encode(session) {
      const payload = Buffer.from(JSON.stringify({ s: session.subject, n: session.nonce, e: session.expires })).toString('base64url');
      return `${payload}.${mac('session', payload).toString('base64url')}`;
    },
    decode(value) {
      if (value === undefined || value.length > MAX_COOKIE) return undefined;
      const dot = value.indexOf('.');
      if (dot <= 0) return undefined;
      const payload = value.slice(0, dot);
      if (!macEquals(Buffer.from(value.slice(dot + 1), 'base64url'), mac('session', payload))) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return undefined;
      }
      if (typeof parsed !== 'object' || parsed === null) return undefined;
      const { s, n, e } = parsed as Record<string, unknown>;
      if (typeof s !== 'string' || typeof n !== 'string' || typeof e !== 'number' || e * 1000 <= now()) return undefined;
      return { subject: s, nonce: n, expires: e };
    },
    csrfToken(session) {
      return mac('csrf', session.nonce).toString('base64url');
    },
    checkCsrf(session, token) {
      if (token === undefined || token.length > 100) return false;
      return macEquals(Buffer.from(token, 'base64url'), mac('csrf', session.nonce));
    },
  };
}

/** The session key derived from the token-signing key (shared through storage by every node). */
export function sessionKeyFromSigningKey(key: SigningKey): Buffer {
  const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  return createHash('sha256').update('berth ui sessions\0').update(der).digest();
}

/** The session key derived from `http.secret` (the same on every node). */
export function sessionKeyFromSecret(secret: string): Buffer {
  return createHash('sha256').update('berth ui sessions\0').update(secret, 'utf8').digest();
}
