/**
 * The authentication settings, validated from the sections the config loader passes through
 * (`Config.authSections`): distribution's `auth.htpasswd` / `auth.token` (one backend at a time,
 * as distribution), Berth's `berth.auth` (built-in token server, credential cache), the
 * `berth.access` rules, `berth.ratelimit` budgets and `berth.trustedproxies`. Every problem is
 * reported with the key it concerns; `parseAuthSettings` throws {@link AuthConfigError} listing
 * them all.
 *
 * Modes:
 * - no `auth` section: `none` — everything is allowed (as before; warned about off loopback);
 * - `auth.htpasswd`: `basic` — Basic credentials on every request, `WWW-Authenticate: Basic`;
 * - `auth.htpasswd` + `berth.auth.tokenserver.enabled`: `builtin-token` — Berth's own token server
 *   at `berth.auth.tokenserver.path` checks the htpasswd credentials and issues tokens; the
 *   registry challenges with `Bearer` (and still accepts Basic credentials directly);
 * - `auth.token`: `external-token` — tokens from an external token server (Harbor, GitLab,
 *   docker_auth), verified against `rootcertbundle` and/or `jwks`.
 */
import { z } from 'zod';
import { ACCESS_CONFIG_SCHEMA, type AccessConfig } from './policy-config.js';
import { RATE_LIMIT_CONFIG_SCHEMA, TRUSTED_PROXIES_SCHEMA, type RateLimitConfig } from './rate-limit-config.js';

export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export type AuthMode = 'none' | 'basic' | 'builtin-token' | 'external-token';

export interface TokenServerSettings {
  /** Path of the token endpoint (GET and POST), below `http.prefix`. */
  readonly path: string;
  readonly keyFile?: string;
  readonly certificateFile?: string;
  readonly expiresInSeconds: number;
  readonly issuer: string;
  readonly service: string;
  /** Explicit realm URL; default: the request's base URL + path. */
  readonly realm?: string;
}

export interface ExternalTokenSettings {
  /** Realm URL; with `autoredirect`, `https://<Host>/auth/token` (or `autoredirectpath`) per request. */
  readonly realm?: string;
  readonly autoRedirectPath?: string;
  readonly service: string;
  readonly issuer: string;
  readonly rootCertBundle?: string;
  readonly jwks?: string;
}

export interface AuthSettings {
  readonly mode: AuthMode;
  readonly htpasswd?: { readonly realm: string; readonly path: string };
  readonly token?: ExternalTokenSettings;
  readonly tokenServer?: TokenServerSettings;
  readonly credentialCacheTtlMs: number;
  readonly access?: AccessConfig;
  readonly rateLimit?: RateLimitConfig;
  readonly trustedProxies: readonly string[];
}

export interface AuthSectionsInput {
  readonly auth?: unknown;
  readonly berthAuth?: unknown;
  readonly access?: unknown;
  readonly rateLimit?: unknown;
  readonly trustedProxies?: unknown;
}

const text = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string().min(1));
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
/** Seconds, written as a number or like `90s`, `10m`, `1h`. */
const toSeconds = (v: unknown): unknown => {
  if (typeof v !== 'string') return v;
  const m = /^(\d+)(s|m|h)?$/.exec(v.trim());
  if (m === null) return v;
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
};
const seconds = z.preprocess(toSeconds, z.number().int().min(60, 'at least 60 seconds (clients treat less as 60)').max(30 * 24 * 3600));
const cacheSeconds = z.preprocess(toSeconds, z.number().int().min(0).max(3600, 'at most 1h: a removed user keeps access this long'));

const AUTH_SCHEMA = z.strictObject({
  htpasswd: z.strictObject({ realm: text, path: text }).optional(),
  token: z
    .strictObject({
      realm: text.optional(),
      service: text,
      issuer: text,
      rootcertbundle: text.optional(),
      jwks: text.optional(),
      autoredirect: flag.optional(),
      autoredirectpath: text.optional(),
      signingalgorithms: z.array(z.string()).optional(),
    })
    .optional(),
  silly: z.unknown().optional(),
  none: z.unknown().optional(),
});

const BERTH_AUTH_SCHEMA = z.strictObject({
  tokenserver: z
    .strictObject({
      enabled: flag.optional(),
      path: z.string().regex(/^\/[A-Za-z0-9._~\/-]*$/, 'a path like /token').optional(),
      key: text.optional(),
      certificate: text.optional(),
      expiration: seconds.optional(),
      issuer: text.optional(),
      service: text.optional(),
      realm: z.string().url().optional(),
    })
    .optional(),
  cache: z.strictObject({ ttl: cacheSeconds.optional() }).optional(),
});

function issues(prefix: string, error: z.ZodError): string[] {
  return error.issues.map((i) => `${[prefix, ...i.path.map(String)].join('.')}: ${i.message}`);
}

function section<T>(prefix: string, schema: z.ZodType<T>, value: unknown, problems: string[]): T | undefined {
  if (value === undefined || value === null) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  problems.push(...issues(prefix, result.error));
  return undefined;
}

export function parseAuthSettings(sections: AuthSectionsInput): AuthSettings {
  const problems: string[] = [];
  const auth = section('auth', AUTH_SCHEMA, sections.auth, problems);
  const berth = section('berth.auth', BERTH_AUTH_SCHEMA, sections.berthAuth, problems);
  const access = section('berth.access', ACCESS_CONFIG_SCHEMA, sections.access, problems);
  const rateLimit = section('berth.ratelimit', RATE_LIMIT_CONFIG_SCHEMA, sections.rateLimit, problems);
  const trustedProxies = section('berth.trustedproxies', TRUSTED_PROXIES_SCHEMA, sections.trustedProxies, problems) ?? [];

  if (auth?.silly !== undefined) problems.push('auth.silly: the silly backend (any credentials accepted) is not supported; use htpasswd or token');
  if (auth?.htpasswd !== undefined && auth.token !== undefined) problems.push('auth: configure one backend, htpasswd or token, not both');
  const ts = berth?.tokenserver;
  const tokenServerOn = ts?.enabled === true;
  if (tokenServerOn && auth?.htpasswd === undefined) problems.push('berth.auth.tokenserver: the token server checks credentials against auth.htpasswd; configure it');
  if (tokenServerOn && auth?.token !== undefined) problems.push('berth.auth.tokenserver: cannot be combined with an external token server (auth.token)');
  if ((ts?.certificate !== undefined) && ts.key === undefined) problems.push('berth.auth.tokenserver.certificate: needs berth.auth.tokenserver.key');
  const token = auth?.token;
  if (token !== undefined) {
    if (token.realm === undefined && token.autoredirect !== true) problems.push('auth.token.realm: required (or set autoredirect: true)');
    if (token.rootcertbundle === undefined && token.jwks === undefined) problems.push('auth.token: give rootcertbundle and/or jwks (the keys tokens are verified with)');
  }
  if (access !== undefined && auth === undefined) problems.push('berth.access: access rules need an auth backend (auth.htpasswd or auth.token)');
  if (problems.length > 0) throw new AuthConfigError(problems);

  const mode: AuthMode = auth?.token !== undefined ? 'external-token' : auth?.htpasswd !== undefined ? (tokenServerOn ? 'builtin-token' : 'basic') : 'none';
  return {
    mode,
    ...(auth?.htpasswd !== undefined ? { htpasswd: auth.htpasswd } : {}),
    ...(token !== undefined
      ? {
          token: {
            ...(token.realm !== undefined ? { realm: token.realm } : {}),
            ...(token.autoredirect === true ? { autoRedirectPath: token.autoredirectpath ?? '/auth/token' } : {}),
            service: token.service,
            issuer: token.issuer,
            ...(token.rootcertbundle !== undefined ? { rootCertBundle: token.rootcertbundle } : {}),
            ...(token.jwks !== undefined ? { jwks: token.jwks } : {}),
          },
        }
      : {}),
    ...(tokenServerOn
      ? {
          tokenServer: {
            path: ts?.path ?? '/token',
            ...(ts?.key !== undefined ? { keyFile: ts.key } : {}),
            ...(ts?.certificate !== undefined ? { certificateFile: ts.certificate } : {}),
            expiresInSeconds: ts?.expiration ?? 3600,
            issuer: ts?.issuer ?? 'berth',
            service: ts?.service ?? 'berth',
            ...(ts?.realm !== undefined ? { realm: ts.realm } : {}),
          },
        }
      : {}),
    credentialCacheTtlMs: (berth?.cache?.ttl ?? 60) * 1000,
    ...(access !== undefined ? { access } : {}),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
    trustedProxies,
  };
}
