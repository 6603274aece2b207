/**
 * Configuration of the pull-through cache: distribution's `proxy` section (`remoteurl`,
 * `username`, `password`, `ttl`: the whole registry mirrors one upstream) and Berth's
 * `berth.proxy.upstreams` (several upstreams, each serving the repository names under its
 * `prefix`). {@link normaliseProxy} turns both into one list of {@link UpstreamConfig}, longest
 * prefix first, so the first match wins. `ttl` is how long a tag's cached digest is trusted
 * before it is revalidated upstream (distribution uses the same key for evicting its cache).
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

const text = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string());

const upstreamFields = {
  remoteurl: text,
  username: text.optional(),
  password: text.optional(),
  ttl: z.unknown().optional(),
};

/** distribution's `proxy` section. */
export const proxySchema = z.object({ ...upstreamFields, exec: z.unknown().optional() }).nullable().optional();

/** `berth.proxy`. */
export const berthProxySchema = z
  .object({ upstreams: z.array(z.object({ prefix: text, ...upstreamFields })).optional() })
  .optional();

/** Default time a tag's digest is served without asking the upstream. */
export const DEFAULT_TAG_TTL_MS = 5 * 60_000;

export interface UpstreamConfig {
  /** Local repository names under `<prefix>/` are served from this upstream ('' = every name). */
  readonly prefix: string;
  /** Base URL, without a trailing slash (`https://registry-1.docker.io`). */
  readonly remoteUrl: string;
  readonly username?: string;
  readonly password?: string;
  readonly ttlMs: number;
}

export interface ProxyConfig {
  /** Longest prefix first. Empty: no pull-through cache. */
  readonly upstreams: readonly UpstreamConfig[];
}

type RawUpstream = { remoteurl: string; username?: string | undefined; password?: string | undefined; ttl?: unknown };

const PREFIX = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

function upstream(key: string, prefix: string, raw: RawUpstream, problems: string[]): UpstreamConfig | undefined {
  let remoteUrl: string | undefined;
  try {
    const u = new URL(raw.remoteurl);
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '' || u.search !== '') throw new Error('url');
    remoteUrl = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    problems.push(`${key}.remoteurl: expected an http(s) URL without credentials or query, got ${JSON.stringify(raw.remoteurl.slice(0, 200))}`);
  }
  const ttlMs = raw.ttl === undefined ? DEFAULT_TAG_TTL_MS : parseDuration(raw.ttl);
  if (ttlMs === undefined) problems.push(`${key}.ttl: expected a duration like "5m" or "168h", got ${JSON.stringify(raw.ttl)}`);
  if ((raw.username === undefined) !== (raw.password === undefined)) problems.push(`${key}: username and password must be given together`);
  if (remoteUrl === undefined || ttlMs === undefined) return undefined;
  return {
    prefix,
    remoteUrl,
    ...(raw.username !== undefined && raw.password !== undefined ? { username: raw.username, password: raw.password } : {}),
    ttlMs,
  };
}

export function normaliseProxy(
  raw: { proxy: z.infer<typeof proxySchema>; berth: z.infer<typeof berthProxySchema> },
  problems: string[],
  warnings: string[],
): ProxyConfig {
  const out: UpstreamConfig[] = [];
  if (raw.proxy !== undefined && raw.proxy !== null) {
    if (raw.proxy.exec !== undefined) warnings.push('proxy.exec: credential helpers are not implemented by Berth (ignored)');
    const u = upstream('proxy', '', raw.proxy, problems);
    if (u !== undefined) out.push(u);
  }
  const seen = new Set<string>();
  (raw.berth?.upstreams ?? []).forEach((entry, i) => {
    const key = `berth.proxy.upstreams.${i}`;
    const prefix = entry.prefix.replace(/\/+$/, '');
    if (!PREFIX.test(prefix)) {
      problems.push(`${key}.prefix: expected a repository name prefix like "docker.io" or "quay.io/team", got ${JSON.stringify(entry.prefix.slice(0, 200))}`);
      return;
    }
    if (seen.has(prefix)) problems.push(`${key}.prefix: ${prefix} is configured twice`);
    seen.add(prefix);
    const u = upstream(key, prefix, entry, problems);
    if (u !== undefined) out.push(u);
  });
  out.sort((a, b) => b.prefix.length - a.prefix.length);
  return { upstreams: out };
}
