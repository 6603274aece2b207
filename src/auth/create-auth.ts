/**
 * Builds the authentication services from the validated settings (settings.ts): the one access
 * controller every endpoint goes through, and, in `builtin-token` mode, Berth's token server
 * router. Reads what must be read once at start (the htpasswd file, the token-server key — from
 * its files, or generated once and kept in storage so every node signs alike —, an external
 * token server's certificate bundle and JWKS) and fails the start with a message naming the key
 * when one is unusable.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { Router } from 'express';
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage-drivers/driver.js';
import { requestBase, type UrlOptions } from '../http/request-base.js';
import { anonymousAccess, type AccessController, type Principal } from './access.js';
import { AuthController, type Challenge } from './controller.js';
import { HtpasswdStore } from './htpasswd.js';
import { createPolicy } from './policy.js';
import { createRateLimiter } from './rate-limit.js';
import { sessionKeyFromSigningKey } from './session.js';
import { AuthConfigError, type AuthSettings } from './settings.js';
import { loadOrCreateStoredSigningKey, readSigningKeyFiles, type SigningKey } from './signing-key.js';
import { TokenIssuer } from './token-issuer.js';
import { createTokenRouter } from './token-server.js';
import { TokenVerifier } from './token-verifier.js';
import { createV1Tokens } from './v1-tokens.js';

export interface AuthServices {
  readonly access: AccessController;
  /** Berth's token server (GET/POST on its path), in builtin-token mode. */
  readonly tokenRouter?: Router;
  readonly mode: AuthSettings['mode'];
  /**
   * Key for the web UI's session cookies and CSRF tokens (session.ts), derived from the
   * token-signing key so every node shares it; absent in mode `none`.
   */
  readonly sessionKey?: Buffer;
}

export interface CreateAuthDeps {
  readonly settings: AuthSettings;
  readonly driver: StorageDriver;
  readonly logger: Logger;
  /** How request base URLs are built (http.host, http.prefix), for the token realm. */
  readonly urls: UrlOptions;
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
}

async function readText(key: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new AuthConfigError([`${key}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
}

async function openHtpasswd(settings: AuthSettings, logger: Logger, now: (() => number) | undefined): Promise<HtpasswdStore | undefined> {
  if (settings.htpasswd === undefined) return undefined;
  try {
    return await HtpasswdStore.open({
      path: settings.htpasswd.path,
      logger,
      cacheTtlMs: settings.credentialCacheTtlMs,
      ...(now !== undefined ? { now } : {}),
    });
  } catch (error) {
    throw new AuthConfigError([`auth.htpasswd.path: ${(error as Error).message}`]);
  }
}

async function signingKey(settings: AuthSettings, driver: StorageDriver, logger: Logger): Promise<SigningKey> {
  const ts = settings.tokenServer;
  if (ts?.keyFile !== undefined) {
    try {
      return await readSigningKeyFiles(ts.keyFile, ts.certificateFile);
    } catch (error) {
      throw new AuthConfigError([`berth.auth.tokenserver.key: ${(error as Error).message}`]);
    }
  }
  return loadOrCreateStoredSigningKey(driver, { onGenerated: (path) => logger.info({ path }, 'token signing key generated and stored') });
}

export async function createAuth(deps: CreateAuthDeps): Promise<AuthServices> {
  const { settings, driver, logger, now } = deps;
  if (settings.mode === 'none') return { access: anonymousAccess, mode: 'none' };
  const policy = createPolicy(settings.access);
  const limiter = createRateLimiter(
    { ...(settings.rateLimit !== undefined ? { ratelimit: settings.rateLimit } : {}), trustedProxies: settings.trustedProxies },
    now !== undefined ? { now } : {},
  );
  const htpasswd = await openHtpasswd(settings, logger, now);
  const clock = now !== undefined ? { now } : {};

  if (settings.mode === 'external-token' && settings.token !== undefined) {
    const token = settings.token;
    const bundle = token.rootCertBundle !== undefined ? await readText('auth.token.rootcertbundle', token.rootCertBundle) : undefined;
    let jwks: unknown;
    if (token.jwks !== undefined) {
      try {
        jwks = JSON.parse(await readText('auth.token.jwks', token.jwks));
      } catch (error) {
        if (error instanceof AuthConfigError) throw error;
        throw new AuthConfigError([`auth.token.jwks: not JSON (${(error as Error).message})`]);
      }
    }
    let verifier: TokenVerifier;
    try {
      verifier = new TokenVerifier({ issuer: token.issuer, service: token.service, ...(bundle !== undefined ? { rootCertBundlePem: bundle } : {}), ...(jwks !== undefined ? { jwks } : {}), ...clock });
    } catch (error) {
      throw new AuthConfigError([`auth.token: ${(error as Error).message}`]);
    }
    const realm = (req: IncomingMessage): string => {
      if (token.realm !== undefined) return token.realm;
      const host = requestBase(req, { prefix: '', relative: false });
      return `https://${new URL(host).host}${token.autoRedirectPath ?? '/auth/token'}`;
    };
    const key = await signingKey(settings, driver, logger);
    const access = new AuthController({
      challenge: { scheme: 'bearer', realm, service: token.service },
      policy,
      limiter,
      verifier,
      v1Tokens: createV1Tokens(v1Key(key), clock),
    });
    return { access, mode: settings.mode, sessionKey: sessionKeyFromSigningKey(key) };
  }

  const key = await signingKey(settings, driver, logger);
  const v1Tokens = createV1Tokens(v1Key(key), clock);
  const ts = settings.tokenServer;
  if (settings.mode === 'basic' || ts === undefined) {
    const challenge: Challenge = { scheme: 'basic', realm: settings.htpasswd?.realm ?? 'berth' };
    return {
      access: new AuthController({ challenge, policy, limiter, ...(htpasswd !== undefined ? { htpasswd } : {}), v1Tokens }),
      mode: settings.mode,
      sessionKey: sessionKeyFromSigningKey(key),
    };
  }

  const issuer = new TokenIssuer({ key, issuer: ts.issuer, ...clock });
  const verifier = new TokenVerifier({ issuer: ts.issuer, service: ts.service, trustedKeys: [key.publicKey], ...clock });
  const realm = (req: IncomingMessage): string => ts.realm ?? `${requestBase(req, { ...deps.urls, relative: false })}${ts.path}`;
  const access = new AuthController({
    challenge: { scheme: 'bearer', realm, service: ts.service },
    policy,
    limiter,
    verifier,
    ...(htpasswd !== undefined ? { htpasswd } : {}),
    v1Tokens,
  });
  const store = htpasswd as HtpasswdStore;
  const tokenRouter = createTokenRouter({
    service: ts.service,
    issuer,
    path: ts.path,
    expiresInSeconds: ts.expiresInSeconds,
    realm: settings.htpasswd?.realm ?? ts.service,
    authenticate: async (user, password) => ((await store.verify(user, password)) ? { subject: user } : undefined),
    grant: (principal: Principal, requested) => Promise.resolve(policy.grant(principal, requested)),
    resolveSubject: async (subject) => ((await store.has(subject)) ? { subject } : undefined),
    checkLogin: (user, req) => {
      const result = limiter.peek('failedLogin', limiter.failedLoginKeys(user, limiter.clientAddress(req)));
      if (!result.ok) throw Object.assign(new Error('too many failed logins; retry later'), { status: 429, headers: { 'Retry-After': String(result.retryAfterSeconds) } });
    },
    onFailedLogin: (user, req) => {
      limiter.take('failedLogin', limiter.failedLoginKeys(user, limiter.clientAddress(req)));
    },
    logger,
  });
  return { access, tokenRouter, mode: settings.mode, sessionKey: sessionKeyFromSigningKey(key) };
}

/** The v1 session-token MAC key: derived from the token-signing key, so every node shares it. */
function v1Key(key: SigningKey): Buffer {
  const der = key.privateKey.export({ type: 'pkcs8', format: 'der' });
  return createHash('sha256').update('berth v1 session tokens\0').update(der).digest();
}
