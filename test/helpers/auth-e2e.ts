/**
 * Shared pieces of the authentication end-to-end suites (test/e2e/auth-*.test.ts): the users
 * (random passwords per run, bcrypt htpasswd file written with @node-rs/bcrypt), the Berth config
 * for Basic mode and for token-server (Bearer) mode with the access rules every suite uses, the
 * skopeo runner (never through a shell, with a timeout), the "client available?" skip rule (skip
 * outside CI, fail under CI=true) and a few HTTP helpers for the token endpoint.
 *
 * Rules (as the task's example): `public/**` anonymous pull; `ci/**` pull+push for group `ci`
 * (bob); everything for alice. So bob may push ci/x but not private/x; anonymous callers may pull
 * public/** only.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashSync } from '@node-rs/bcrypt';

export interface User {
  readonly name: string;
  readonly password: string;
}

/** Fresh random passwords per run (so a leak in the logs can be searched for exactly). */
export function makeUsers(): { readonly alice: User; readonly bob: User } {
  return {
    alice: { name: 'alice', password: `alice-${randomBytes(12).toString('hex')}` },
    bob: { name: 'bob', password: `bob-${randomBytes(12).toString('hex')}` },
  };
}

/** Writes an htpasswd file of bcrypt lines (cost 4: fast in tests) and returns its path. */
export async function writeHtpasswd(dir: string, users: readonly User[]): Promise<string> {
  const path = join(dir, 'htpasswd');
  await writeFile(path, users.map((u) => `${u.name}:${hashSync(u.password, 4)}\n`).join(''), { mode: 0o600 });
  return path;
}

export type AuthTestMode = 'basic' | 'token';

export const ACCESS_RULES = {
  groups: { ci: ['bob'] },
  rules: [
    { repositories: ['public/**'], anonymous: true, actions: ['pull'] },
    { repositories: ['ci/**'], groups: ['ci'], actions: ['pull', 'push'] },
    { repositories: ['**'], users: ['alice'], actions: ['*'] },
  ],
};

/** The `auth` and `berth` config sections for a mode (merged into startBerth's config). */
export function authConfig(mode: AuthTestMode, htpasswdPath: string): Record<string, unknown> {
  return {
    auth: { htpasswd: { realm: 'berth', path: htpasswdPath } },
    berth: {
      ...(mode === 'token' ? { auth: { tokenserver: { enabled: true } } } : {}),
      access: ACCESS_RULES,
    },
  };
}

export function basicValue(user: User, password = user.password): string {
  return Buffer.from(`${user.name}:${password}`).toString('base64');
}

export function basicHeader(user: User, password = user.password): string {
  return `Basic ${basicValue(user, password)}`;
}

export const inCi = process.env['CI'] === 'true';

/**
 * Whether `binary args` runs (exit 0). Used for the skip rule: a missing client skips the suite
 * outside CI and fails it under CI=true.
 */
export function commandWorks(binary: string, args: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(binary, [...args], { timeout: 15_000 }, (error) => resolve(error === null));
  });
}

/**
 * The `skip` option of a suite that needs `what`: false when present; a reason outside CI; under
 * CI=true false as well (the suite runs and fails, so CI never skips silently).
 */
export function skipUnless(present: boolean, what: string): string | false {
  if (present || inCi) return false;
  return `${what} is not installed (test/setup installs it; run the tests through test/run.sh)`;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export const SKOPEO_TIMEOUT_MS = 45_000;

/** Runs skopeo (no shell) and resolves with its exit code and output; rejects only when it cannot start. */
export function runSkopeo(args: readonly string[], options: { readonly timeout?: number; readonly env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    execFile(
      'skopeo',
      ['--insecure-policy', ...args],
      {
        timeout: options.timeout ?? SKOPEO_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'buffer',
        ...(options.env !== undefined ? { env: options.env } : {}),
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number' && error.killed !== true) {
          reject(error);
          return;
        }
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolveRun({ code, stdout, stderr: stderr.toString() });
      },
    );
  });
}

/** The token endpoint's reply. */
export interface TokenReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

/** GET <base>/token?service=berth&scope=… with optional Basic credentials. */
export async function fetchToken(baseUrl: string, scopes: readonly string[], authorization?: string): Promise<TokenReply> {
  const url = new URL('/token', baseUrl);
  url.searchParams.set('service', 'berth');
  for (const s of scopes) url.searchParams.append('scope', s);
  const res = await fetch(url, {
    headers: authorization === undefined ? {} : { authorization },
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers };
}

/** Parses `Bearer realm="…",service="…",scope="…"` into its parameters. */
export function parseBearerChallenge(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (header === null || !/^Bearer /i.test(header)) return out;
  for (const m of header.slice(7).matchAll(/([a-z_]+)="([^"]*)"/gi)) out[(m[1] ?? '').toLowerCase()] = m[2] ?? '';
  return out;
}

/** The JSON lines of a Berth process's output (pino), other lines skipped. */
export function jsonLines(output: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null) lines.push(parsed as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return lines;
}

/** A built image's parts, as test/helpers/oci-image.ts makes them. */
export interface PushableImage {
  readonly layers: readonly { readonly digest: string; readonly bytes: Buffer }[];
  readonly config: { readonly digest: string; readonly bytes: Buffer };
  readonly manifest: { readonly digest: string; readonly bytes: Buffer; readonly mediaType: string };
}

/**
 * Pushes an image over plain HTTP (monolithic POST + PUT per blob, then the manifest under `ref`)
 * with the given Authorization header on every request; returns the manifest digest Berth gave.
 */
export async function pushImageWithAuth(baseUrl: string, repo: string, ref: string, image: PushableImage, authorization: string): Promise<string> {
  const headers = { authorization };
  for (const blob of [...image.layers, image.config]) {
    const start = await fetch(`${baseUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers, signal: AbortSignal.timeout(15_000) });
    await start.arrayBuffer();
    const location = start.headers.get('location');
    if (start.status !== 202 || location === null) throw new Error(`upload start in ${repo}: ${start.status}`);
    const target = new URL(location, baseUrl);
    target.searchParams.set('digest', blob.digest);
    const put = await fetch(target, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(blob.bytes),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await put.text();
    if (put.status !== 201) throw new Error(`blob PUT ${blob.digest}: ${put.status} ${text}`);
  }
  const res = await fetch(`${baseUrl}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': image.manifest.mediaType },
    body: new Uint8Array(image.manifest.bytes),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`manifest PUT ${repo}:${ref}: ${res.status} ${text}`);
  return res.headers.get('docker-content-digest') ?? '';
}

/** The claims of a JWT (no verification: the registry does that). */
export function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null) throw new Error('JWT payload is not an object');
  return parsed as Record<string, unknown>;
}
