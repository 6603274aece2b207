/**
 * The zod schemas of `berth.ratelimit` and `berth.trustedproxies`.
 *
 * ```yaml
 * berth:
 *   ratelimit:
 *     reads: { rate: 50, burst: 200 }      # requests per second, bucket size; absent = unlimited
 *     writes: { rate: 10, burst: 50 }
 *     failedlogins: { rate: 0.1, burst: 5 } # per user name and per client address
 *   trustedproxies: [10.0.0.0/8, "fd00::/8"]
 * ```
 *
 * `burst` defaults to the rate rounded up (at least 1). Numbers may come as strings (environment
 * overrides); `trustedproxies` also accepts one comma-separated string. Issues carry the path of
 * the bad key relative to the section (`reads.rate`, `2` for the third proxy range).
 */
import { z } from 'zod';
import { formatCidr, parseCidr } from './ip-address.js';

const numeric = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === 'string' && /^\d+(?:\.\d+)?$/.test(v.trim()) ? Number(v) : v), schema);

const budget = z
  .strictObject({
    rate: numeric(z.number().positive().finite()),
    burst: numeric(z.number().int().min(1)).optional(),
  })
  .transform((b): Budget => ({ rate: b.rate, burst: b.burst ?? Math.max(1, Math.ceil(b.rate)) }));

export interface Budget {
  /** Tokens added per second. */
  readonly rate: number;
  /** Bucket size: the most requests allowed at once after a quiet period. */
  readonly burst: number;
}

export const RATE_LIMIT_CONFIG_SCHEMA = z
  .strictObject({
    reads: budget.optional(),
    writes: budget.optional(),
    failedlogins: budget.optional(),
  })
  .transform(
    (r): RateLimitConfig => ({
      ...(r.reads !== undefined ? { reads: r.reads } : {}),
      ...(r.writes !== undefined ? { writes: r.writes } : {}),
      ...(r.failedlogins !== undefined ? { failedLogins: r.failedlogins } : {}),
    }),
  );

/** The validated `berth.ratelimit` section; an absent budget means unlimited. */
export interface RateLimitConfig {
  readonly reads?: Budget;
  readonly writes?: Budget;
  readonly failedLogins?: Budget;
}

export const TRUSTED_PROXIES_SCHEMA = z
  .preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v),
    z.array(
      z.string().transform((text, ctx) => {
        const range = parseCidr(text.trim());
        if (range === undefined) {
          ctx.addIssue({ code: 'custom', message: `expected an IP address or CIDR range like 10.0.0.0/8 or fd00::/8, got ${JSON.stringify(text)}` });
          return z.NEVER;
        }
        return formatCidr(range);
      }),
    ),
  )
  .transform((list): readonly string[] => list);
