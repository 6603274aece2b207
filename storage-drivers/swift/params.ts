/**
 * The swift driver's configuration parameters, with distribution's names (`authurl`, `username`,
 * `password`, `container`, `region`, `tenant`, `tenantid`, `domain`, `domainid`, `trustid`,
 * `authversion`, `endpointtype`, `prefix`, `chunksize`, `secretkey`, `insecureskipverify`,
 * `tempurlcontainerkey`, `tempurlmethods`) plus Berth's timeouts: `timeout` (how long one request
 * may wait on Swift between bytes), `responsetimeout` (until the response headers) and
 * `retrybudget` (one operation over all its attempts). Validated by the factory in `storage-drivers/index.ts` with
 * `parseDriverParams`, so a problem reads `storage.swift.<key>: <message>`.
 */
import { z } from 'zod';

export const MiB = 1024 * 1024;
/** distribution's default segment size. */
export const DEFAULT_CHUNK_SIZE = 20 * MiB;
/** distribution's minimum segment size. */
export const MIN_CHUNK_SIZE = MiB;
/** Swift's default `max_file_size`: no segment may be larger. */
export const MAX_CHUNK_SIZE = 5 * 1024 * MiB;
/** Default for `timeout`: seconds a request may wait on Swift without progress. */
export const DEFAULT_TIMEOUT_SECONDS = 30;
/** Default for `responsetimeout`: seconds until the response headers (connect + first byte). */
export const DEFAULT_RESPONSE_TIMEOUT_SECONDS = 5;
/** Default for `retrybudget`: seconds one operation may take over all its attempts. */
export const DEFAULT_RETRY_BUDGET_SECONDS = 8;

/** Characters allowed in the container name and the prefix (those of driver paths). */
const SAFE_NAME = /^[A-Za-z0-9._:+-]+$/;
const SAFE_PREFIX = /^[A-Za-z0-9._:+\-/]*$/;

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: MiB,
  mb: MiB,
  mib: MiB,
  g: 1024 * MiB,
  gb: 1024 * MiB,
  gib: 1024 * MiB,
};

/** A byte size: an integer, or a string such as `20971520`, `20M`, `20MiB` (binary multiples). */
const byteSize = z
  .union([z.number(), z.string()], { error: 'expected a byte size such as 20971520 or 20M' })
  .transform((value, context) => {
    if (typeof value === 'number') {
      if (Number.isSafeInteger(value)) return value;
    } else {
      const match = /^\s*(\d+)\s*([A-Za-z]*)\s*$/.exec(value);
      const unit = UNITS[(match?.[2] ?? '').toLowerCase()];
      if (match !== null && unit !== undefined) return Number(match[1]) * unit;
    }
    context.addIssue({ code: 'custom', message: 'expected a byte size such as 20971520 or 20M' });
    return z.NEVER;
  });

/** A boolean, also as the strings `true`/`false` (values from environment overrides). */
const flag = z
  .union([z.boolean(), z.enum(['true', 'false'])], { error: 'expected true or false' })
  .transform((value) => value === true || value === 'true');

/** A positive number of seconds, also as a string (`30`, `2.5`) or a Go duration (`30s`, `1m`). */
const seconds = z
  .union([z.number(), z.string()], { error: 'expected seconds (a number) or a duration such as 30s' })
  .transform((value, context) => {
    const parsed = typeof value === 'number' ? value : parseSeconds(value);
    if (parsed !== undefined && Number.isFinite(parsed) && parsed > 0) return parsed;
    context.addIssue({ code: 'custom', message: 'expected a positive number of seconds or a duration such as 30s' });
    return z.NEVER;
  });

function parseSeconds(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(trimmed);
  if (match === null) return undefined;
  const factor = match[2] === 'ms' ? 0.001 : match[2] === 'm' ? 60 : 1;
  return Number(match[1]) * factor;
}

const optionalText = z.string({ error: 'expected a string' }).optional();

/** A non-empty string that must be present (`required` when missing, else what is wrong). */
const requiredText = () =>
  z
    .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
    .min(1, 'must not be empty');

const HTTP_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] as const;

export const swiftParamsSchema = z
  .object({
    authurl: requiredText()
      .refine((value) => /^https?:\/\/[^\s]+$/.test(value), 'expected an http(s) URL'),
    username: requiredText(),
    password: requiredText(),
    container: requiredText()
      .max(256, 'at most 256 characters')
      .regex(SAFE_NAME, 'only letters, digits and . _ : + - are allowed'),
    region: optionalText,
    tenant: optionalText,
    tenantid: optionalText,
    domain: optionalText,
    domainid: optionalText,
    trustid: optionalText,
    authversion: z
      .union([z.literal(1), z.literal(3), z.enum(['1', '3'])], { error: 'expected 1 or 3' })
      .transform((value) => Number(value) as 1 | 3)
      .optional(),
    endpointtype: z.enum(['public', 'internal', 'admin'], { error: 'expected public, internal or admin' }).default('public'),
    prefix: z
      .string({ error: 'expected a string' })
      .regex(SAFE_PREFIX, 'only letters, digits, / and . _ : + - are allowed')
      .refine((value) => value.split('/').every((segment) => segment !== '.' && segment !== '..'), 'no . or .. segments')
      .default(''),
    chunksize: byteSize
      .pipe(
        z
          .number()
          .min(MIN_CHUNK_SIZE, `must be at least ${MIN_CHUNK_SIZE} (1 MiB)`)
          .max(MAX_CHUNK_SIZE, `must be at most ${MAX_CHUNK_SIZE} (5 GiB, Swift's object size limit)`),
      )
      .default(DEFAULT_CHUNK_SIZE),
    secretkey: optionalText,
    insecureskipverify: flag
      .refine(
        (value) => !value,
        'not supported: Berth does not turn TLS verification off; trust the server\'s CA with NODE_EXTRA_CA_CERTS instead',
      )
      .default(false),
    tempurlcontainerkey: flag.default(false),
    tempurlmethods: z
      .array(z.enum(HTTP_METHODS, { error: `expected one of ${HTTP_METHODS.join(', ')}` }), {
        error: 'expected a list of HTTP methods',
      })
      .optional(),
    timeout: seconds.default(DEFAULT_TIMEOUT_SECONDS),
    responsetimeout: seconds.default(DEFAULT_RESPONSE_TIMEOUT_SECONDS),
    retrybudget: seconds.default(DEFAULT_RETRY_BUDGET_SECONDS),
  })
  .strict();

export type SwiftParams = z.output<typeof swiftParamsSchema>;

/** The auth version to use: the configured one, else 3 when the URL names /v3, else 1. */
export function detectAuthVersion(params: Pick<SwiftParams, 'authurl' | 'authversion'>): 1 | 3 {
  if (params.authversion !== undefined) return params.authversion;
  return /\/v3(\/|$)/.test(new URL(params.authurl).pathname) ? 3 : 1;
}

/** The prefix as it is put before object names: `''` or `a/b/` (no leading slash, one trailing). */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '').replace(/\/{2,}/g, '/');
  return trimmed === '' ? '' : `${trimmed}/`;
}
