/**
 * v1 session tokens: what the v1 index hands out in `X-Docker-Token` when a docker 1.x client asks
 * with `X-Docker-Token: true`, and what the client then sends back as
 * `Authorization: Token signature=…,repository="ns/repo",access=write` instead of its password.
 * The `signature` field is `<payload>.<mac>`: the payload (base64url JSON) names the user, the
 * repository, the access and the expiry, and the mac is HMAC-SHA256 over it with a key every
 * node shares (derived from the token-signing key kept in storage), so a token issued by one node
 * is accepted by every other. The token only identifies the user: what the user may do is still
 * decided by the access policy on every request.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface V1Tokens {
  issue(subject: string, repository: string, access: 'read' | 'write' | 'delete'): string;
  /** The user a valid, unexpired token was issued to; undefined otherwise. */
  verify(fields: Readonly<Record<string, string>>): string | undefined;
}

interface Payload {
  readonly s: string;
  readonly r: string;
  readonly a: string;
  readonly e: number;
}

export function createV1Tokens(key: Buffer, options: { readonly lifetimeSeconds?: number; readonly now?: () => number } = {}): V1Tokens {
  const lifetime = options.lifetimeSeconds ?? 8 * 3600;
  const now = options.now ?? Date.now;
  const mac = (payload: string): Buffer => createHmac('sha256', key).update(payload).digest();
  return {
    issue(subject, repository, access) {
      const payload = Buffer.from(JSON.stringify({ s: subject, r: repository, a: access, e: Math.floor(now() / 1000) + lifetime })).toString('base64url');
      return `signature=${payload}.${mac(payload).toString('base64url')},repository="${repository}",access=${access}`;
    },
    verify(fields) {
      const signature = fields['signature'];
      if (signature === undefined || signature.length > 4096) return undefined;
      const [payload = '', given = ''] = signature.split('.');
      const expected = mac(payload);
      const actual = Buffer.from(given, 'base64url');
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
      let parsed: Payload;
      try {
        parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Payload;
      } catch {
        return undefined;
      }
      if (typeof parsed.s !== 'string' || typeof parsed.e !== 'number' || parsed.e * 1000 < now()) return undefined;
      return parsed.s;
    },
  };
}
