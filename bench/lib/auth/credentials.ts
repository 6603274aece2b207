/**
 * bench/lib/auth/credentials.ts — the credentials of the authenticated benchmark: an htpasswd file
 * with one bcrypt entry (cost 10 by default, like `htpasswd -B`), the Basic header for it, and for
 * the reference's `auth.token` mode an EC P-256 key with a self-signed certificate (made by openssl)
 * and a long-lived ES256 JWT signed with it: `kid` = the key's libtrust ID (auth.md §7, computed by
 * Berth's own src/auth/libtrust.ts), string `aud` = service, `access` = pull on one repository
 * (auth.md §6). Berth's token mode does not use that token: it gets one from its own token server.
 */
import { createPrivateKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashSync, verifySync } from '@node-rs/bcrypt';
import { SignJWT } from 'jose';
import { libtrustKeyId } from '../../../src/auth/libtrust.js';
import { runCommand } from '../exec.js';

export interface BenchUser {
  readonly user: string;
  readonly password: string;
  readonly wrongPassword: string;
  readonly htpasswdPath: string;
  /** `Basic base64(user:password)`. */
  readonly basic: string;
  /** `Basic base64(user:wrongPassword)`. */
  readonly wrongBasic: string;
  /** Milliseconds of one bcrypt compare of the right password against the entry, in this process. */
  readonly bcryptMs: number;
}

export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
}

/** Writes `<dir>/htpasswd` with one bcrypt entry and times one compare (median of 3). */
export function makeUser(dir: string, cost: number): BenchUser {
  const user = 'bench';
  const password = randomBytes(12).toString('base64url');
  const wrongPassword = `${password}x`;
  const hash = hashSync(password, cost);
  const htpasswdPath = join(dir, 'htpasswd');
  writeFileSync(htpasswdPath, `${user}:${hash}\n`, { mode: 0o600 });
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = process.hrtime.bigint();
    if (!verifySync(password, hash)) throw new Error('bcrypt: the fresh hash does not verify');
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return {
    user,
    password,
    wrongPassword,
    htpasswdPath,
    basic: basicHeader(user, password),
    wrongBasic: basicHeader(user, wrongPassword),
    bcryptMs: times[1] ?? Number.NaN,
  };
}

export interface SigningCert {
  readonly keyPath: string;
  readonly certPath: string;
  readonly key: KeyObject;
  /** libtrust key ID of the public key (distribution 2.8's `kid`). */
  readonly kid: string;
}

async function openssl(args: readonly string[]): Promise<void> {
  const r = await runCommand('openssl', args, 30_000);
  if (r.timedOut || r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (code ${String(r.code)}): ${r.stderr}`);
}

/** `openssl genpkey` an EC P-256 key and `openssl req -x509` a 10-year self-signed certificate for it. */
export async function makeSigningCert(dir: string): Promise<SigningCert> {
  const keyPath = join(dir, 'token-signing.key');
  const certPath = join(dir, 'token-signing.crt');
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
  await openssl(['req', '-x509', '-new', '-key', keyPath, '-subj', '/CN=berth-bench-token-issuer', '-days', '3650', '-out', certPath]);
  const key = createPrivateKey(readFileSync(keyPath, 'utf8'));
  return { keyPath, certPath, key, kid: libtrustKeyId(key) };
}

export interface TokenClaims {
  readonly issuer: string;
  readonly service: string;
  readonly subject: string;
  readonly repo: string;
  readonly lifetimeS: number;
}

/** An ES256 JWT as an external token server (Harbor, GitLab, docker_auth) would issue for a pull. */
export async function signPullToken(cert: SigningCert, c: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ access: [{ type: 'repository', name: c.repo, actions: ['pull'] }] })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: cert.kid })
    .setIssuer(c.issuer)
    .setSubject(c.subject)
    .setAudience(c.service)
    .setIssuedAt(now)
    .setNotBefore(now - 10)
    .setExpirationTime(now + c.lifetimeS)
    .setJti(randomUUID())
    .sign(cert.key);
}
