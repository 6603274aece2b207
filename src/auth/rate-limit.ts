/**
 * Per-client rate limits (`berth.ratelimit`, schema in rate-limit-config.ts): one token bucket per
 * budget kind and client key. A bucket holds up to `burst` tokens and refills at `rate` per second;
 * a request takes one token, and without one it is refused with the seconds until the next token
 * (the server answers 429 TOOMANYREQUESTS with `Retry-After`). A kind without a budget is unlimited.
 *
 * Keys ({@link RateLimiter.keyFor}): the principal's subject when authenticated, else the client
 * address ({@link RateLimiter.clientAddress}: X-Forwarded-For through trusted proxies only, see
 * client-address.ts); IPv6 clients are keyed by their /64, since one host usually owns a whole
 * /64. Failed logins are limited per user name AND per address ({@link RateLimiter.failedLoginKeys}):
 * check with `peek` before verifying a password (so a locked-out guesser costs no bcrypt), `take`
 * after a failure; with several keys a request needs a token in every bucket and takes one from each.
 *
 * Memory is bounded without timers: about once a minute (checked on each call) buckets that have
 * refilled completely are dropped (a full bucket equals no bucket); when `maxEntries` is reached
 * the same sweep runs, and if it is not enough the least recently used buckets are dropped down to
 * 90 % of the cap, so sweeps stay amortised even under a flood of new addresses.
 * Time comes from the injected `now` (milliseconds).
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from './access.js';
import { createClientAddress } from './client-address.js';
import { formatCidr, parseIp, prefixOf } from './ip-address.js';
import type { Budget, RateLimitConfig } from './rate-limit-config.js';

export type LimitKind = 'read' | 'write' | 'failedLogin';

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

export interface RateLimiterConfig {
  /** The validated `berth.ratelimit` section; absent = no limits. */
  readonly ratelimit?: RateLimitConfig;
  /** The validated `berth.trustedproxies` list (CIDR strings). */
  readonly trustedProxies?: readonly string[];
}

export interface RateLimiterOptions {
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
  /** Most buckets kept across all kinds; default 100000. */
  readonly maxEntries?: number;
  /** How often full buckets are swept, in milliseconds; default 60000. */
  readonly sweepIntervalMs?: number;
}

export interface RateLimiter {
  /** The request's client address (see client-address.ts). */
  clientAddress(req: IncomingMessage): string;
  /** The bucket key for reads and writes: `user:<subject>` when authenticated, else `ip:<address or /64>`. */
  keyFor(principal: Principal | undefined, address: string): string;
  /** The bucket keys of a failed login: the user name (when given) and the address. */
  failedLoginKeys(user: string, address: string): readonly string[];
  /** Takes a token from every key's bucket, or none when one of them is empty. */
  take(kind: LimitKind, key: string | readonly string[]): TakeResult;
  /** Whether `take` would succeed now, consuming nothing. */
  peek(kind: LimitKind, key: string | readonly string[]): TakeResult;
  /** Whether the kind has a budget at all (else every take succeeds). */
  limited(kind: LimitKind): boolean;
  /** Number of buckets held (for metrics and tests). */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  at: number;
  readonly budget: Budget;
}

const OK: TakeResult = Object.freeze({ ok: true });

function addressKey(address: string): string {
  const ip = parseIp(address);
  if (ip === undefined) return `ip:${address}`;
  return ip.family === 6 ? `ip:${formatCidr(prefixOf(ip, 64))}` : `ip:${address}`;
}

export function createRateLimiter(config: RateLimiterConfig, options: RateLimiterOptions = {}): RateLimiter {
  const now = options.now ?? Date.now;
  const maxEntries = Math.max(1, options.maxEntries ?? 100_000);
  const sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  const budgets: Record<LimitKind, Budget | undefined> = {
    read: config.ratelimit?.reads,
    write: config.ratelimit?.writes,
    failedLogin: config.ratelimit?.failedLogins,
  };
  const clientAddress = createClientAddress(config.trustedProxies ?? []);
  /** Map order = least recently taken first. */
  const buckets = new Map<string, Bucket>();
  let lastSweep = now();

  const level = (b: Bucket, t: number): number => Math.min(b.budget.burst, b.tokens + (Math.max(0, t - b.at) * b.budget.rate) / 1000);

  const sweep = (t: number): void => {
    lastSweep = t;
    for (const [id, b] of buckets) if (level(b, t) >= b.budget.burst) buckets.delete(id);
  };

  const makeRoom = (t: number): void => {
    sweep(t);
    if (buckets.size < maxEntries) return;
    const target = Math.floor(maxEntries * 0.9);
    for (const id of buckets.keys()) {
      if (buckets.size <= target) break;
      buckets.delete(id);
    }
  };

  const run = (kind: LimitKind, key: string | readonly string[], consume: boolean): TakeResult => {
    const budget = budgets[kind];
    if (budget === undefined) return OK;
    const t = now();
    if (t - lastSweep >= sweepIntervalMs || t < lastSweep) sweep(t);
    const keys = typeof key === 'string' ? [key] : [...new Set(key)];
    const ids = keys.map((k) => `${kind}\u0000${k}`);
    const levels = ids.map((id) => {
      const b = buckets.get(id);
      return b === undefined ? budget.burst : level(b, t);
    });
    const lowest = Math.min(...levels);
    if (lowest < 1) {
      const seconds = (1 - lowest) / budget.rate;
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(seconds - 1e-9)) };
    }
    if (consume) {
      ids.forEach((id, i) => {
        if (!buckets.has(id) && buckets.size >= maxEntries) makeRoom(t);
        buckets.delete(id);
        buckets.set(id, { tokens: (levels[i] ?? budget.burst) - 1, at: t, budget });
      });
    }
    return OK;
  };

  return {
    clientAddress,
    keyFor: (principal, address) => (principal !== undefined && principal.subject !== '' ? `user:${principal.subject}` : addressKey(address)),
    failedLoginKeys: (user, address) => (user === '' ? [addressKey(address)] : [`user:${user}`, addressKey(address)]),
    take: (kind, key) => run(kind, key, true),
    peek: (kind, key) => run(kind, key, false),
    limited: (kind) => budgets[kind] !== undefined,
    get size() {
      return buckets.size;
    },
  };
}
