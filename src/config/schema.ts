/**
 * The configuration schema: CNCF distribution's `config.yml` (version 0.1) for the keys Berth
 * implements, plus Berth's own `berth:` section. `KNOWN_KEYS` is the key tree used both to warn
 * about unknown keys and to map `REGISTRY_*` environment variables onto keys; the zod schema
 * validates values and produces the normalised {@link Config}.
 */
import type { SecureVersion } from 'node:tls';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { CIPHER_SUITES, TLS_VERSIONS } from './tls.js';
import { berthMetricsSchema, healthSchema, httpDebugSchema, notificationsSchema, type OpsConfig } from './ops-schema.js';
import { berthProxySchema, proxySchema, type ProxyConfig } from './proxy-schema.js';

/** A key tree: `true` = a leaf, an object = a section, `'map'` = free-form (driver params). */
export type KeyTree = { readonly [key: string]: KeyTree | true | 'map' };

export const STORAGE_DRIVERS = ['filesystem', 'inmemory', 's3', 'swift'] as const;

export const KNOWN_KEYS: KeyTree = {
  version: true,
  log: { level: true, formatter: true, fields: 'map', accesslog: { disabled: true } },
  loglevel: true,
  http: {
    addr: true,
    net: true,
    host: true,
    prefix: true,
    secret: true,
    relativeurls: true,
    draintimeout: true,
    tls: { certificate: true, key: true, clientcas: true, minimumtls: true, ciphersuites: true, letsencrypt: 'map' },
    headers: 'map',
    debug: 'map',
    http2: 'map',
    h2c: 'map',
  },
  storage: {
    filesystem: 'map',
    inmemory: 'map',
    s3: 'map',
    swift: 'map',
    delete: { enabled: true },
    maintenance: {
      uploadpurging: { enabled: true, age: true, interval: true, dryrun: true },
      readonly: { enabled: true },
    },
    redirect: { disable: true },
    cache: 'map',
    tag: 'map',
  },
  auth: {
    htpasswd: { realm: true, path: true },
    token: { realm: true, service: true, issuer: true, rootcertbundle: true, jwks: true, autoredirect: true, autoredirectpath: true, signingalgorithms: true },
    silly: 'map',
    none: 'map',
  },
  middleware: 'map',
  notifications: 'map',
  proxy: { remoteurl: true, username: true, password: true, ttl: true, exec: 'map' },
  health: 'map',
  redis: 'map',
  validation: 'map',
  compatibility: 'map',
  reporting: 'map',
  catalog: { maxentries: true },
  berth: {
    v1: { enabled: true },
    ui: { enabled: true },
    limits: { manifestbytes: true, blobbytes: true, headerstimeout: true, idletimeout: true },
    cache: { manifestbytes: true, linkttl: true },
    tags: { maxpage: true },
    auth: {
      tokenserver: { enabled: true, path: true, key: true, certificate: true, expiration: true, issuer: true, service: true, realm: true },
      cache: { ttl: true },
    },
    access: { groups: 'map', rules: true },
    ratelimit: { reads: { rate: true, burst: true }, writes: { rate: true, burst: true }, failedlogins: { rate: true, burst: true } },
    trustedproxies: true,
    metrics: { enabled: true },
    gc: { enabled: true, interval: true, graceperiod: true },
    workers: true,
    proxy: { upstreams: true },
  },
};

/** Keys that distribution accepts and Berth reads but does not implement yet: warned about. */
export const NOT_IMPLEMENTED = [
  'middleware',
  'redis',
  'storage.cache',
  'reporting',
  'notifications.events',
  'health.file',
  'health.http',
  'health.tcp',
];

const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const text = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string());
const duration = (fallback: string) =>
  z
    .unknown()
    .optional()
    .transform((v, ctx) => {
      const ms = parseDuration(v ?? fallback);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "24h" or "10m", got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return ms;
    });
const size = (fallback: number) =>
  z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int().nonnegative()).default(fallback);

/** A list of strings; one comma-separated string (an environment override) is accepted too. */
const list = <T extends z.ZodType<string>>(item: T) =>
  z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : v), z.array(item));
const tlsSchema = z.object({
  certificate: text.optional(),
  key: text.optional(),
  clientcas: list(z.string().min(1)).optional(),
  minimumtls: z
    .string()
    .refine((v) => Object.hasOwn(TLS_VERSIONS, v), { message: `expected one of ${Object.keys(TLS_VERSIONS).join(', ')}` })
    .optional(),
  ciphersuites: list(
    z.string().refine((v) => Object.hasOwn(CIPHER_SUITES, v), { message: `unknown or unsupported cipher suite (IANA names: ${Object.keys(CIPHER_SUITES).join(', ')})` }),
  ).optional(),
});

const rawSchema = z.object({
  version: z.union([z.string(), z.number()]).optional(),
  log: z
    .object({
      level: z.enum(['error', 'warn', 'info', 'debug', 'trace', 'fatal', 'panic']).optional(),
      formatter: z.enum(['text', 'json', 'logstash']).optional(),
      fields: z.record(z.string(), z.unknown()).optional(),
      accesslog: z.object({ disabled: flag.optional() }).optional(),
    })
    .optional(),
  loglevel: z.enum(['error', 'warn', 'info', 'debug']).optional(),
  http: z
    .object({
      addr: text.optional(),
      net: z.enum(['tcp', 'unix']).optional(),
      host: text.optional(),
      prefix: text.optional(),
      secret: text.optional(),
      relativeurls: flag.optional(),
      draintimeout: duration('10s'),
      tls: tlsSchema.optional(),
      headers: z.record(z.string(), z.union([z.array(z.string()), z.string()])).optional(),
      debug: httpDebugSchema,
    })
    .optional(),
  storage: z
    .object({
      filesystem: z.record(z.string(), z.unknown()).nullable().optional(),
      inmemory: z.record(z.string(), z.unknown()).nullable().optional(),
      s3: z.record(z.string(), z.unknown()).nullable().optional(),
      swift: z.record(z.string(), z.unknown()).nullable().optional(),
      delete: z.object({ enabled: flag.optional() }).optional(),
      maintenance: z
        .object({
          uploadpurging: z
            .object({
              enabled: flag.optional(),
              age: duration('168h'),
              interval: duration('24h'),
              dryrun: flag.optional(),
            })
            .optional(),
          readonly: z.object({ enabled: flag.optional() }).optional(),
        })
        .optional(),
      redirect: z.object({ disable: flag.optional() }).optional(),
    })
    .optional(),
  catalog: z.object({ maxentries: size(1000) }).optional(),
  // Validated by the auth room (src/auth/settings.ts), which owns these sections' meaning.
  auth: z.record(z.string(), z.unknown()).nullable().optional(),
  health: healthSchema,
  notifications: notificationsSchema,
  proxy: proxySchema,
  berth: z
    .object({
      v1: z.object({ enabled: flag.optional() }).optional(),
      ui: z.object({ enabled: flag.optional() }).optional(),
      limits: z
        .object({
          manifestbytes: size(4 * 1024 * 1024),
          blobbytes: size(0),
          headerstimeout: duration('60s'),
          idletimeout: duration('120s'),
        })
        .optional(),
      cache: z.object({ manifestbytes: size(64 * 1024 * 1024), linkttl: duration('1s') }).optional(),
      tags: z.object({ maxpage: size(1000) }).optional(),
      auth: z.unknown().optional(),
      access: z.unknown().optional(),
      ratelimit: z.unknown().optional(),
      trustedproxies: z.unknown().optional(),
      metrics: berthMetricsSchema,
      gc: z.object({ enabled: flag.optional(), interval: duration('24h'), graceperiod: duration('1h') }).optional(),
      /** Worker processes sharing the listening socket: a count ≥ 1 or `auto` (one per CPU). */
      workers: z
        .preprocess(
          (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : typeof v === 'string' ? v.trim().toLowerCase() : v),
          z.union([z.literal('auto'), z.number().int().min(1).max(256)], { error: 'expected a number of workers (1–256) or "auto"' }),
        )
        .optional(),
      proxy: berthProxySchema,
    })
    .optional(),
});

export type RawConfig = z.infer<typeof rawSchema>;
export const RAW_SCHEMA = rawSchema;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'fatal';

export interface AuthSections {
  readonly auth?: unknown;
  readonly berthAuth?: unknown;
  readonly access?: unknown;
  readonly rateLimit?: unknown;
  readonly trustedProxies?: unknown;
}

/** The normalised configuration every component receives. */
export interface Config {
  readonly log: { readonly level: LogLevel; readonly formatter: 'text' | 'json'; readonly accessLog: boolean };
  readonly http: {
    readonly host: string;
    readonly port: number;
    /** External base URL for Location headers (http.host), without trailing slash. */
    readonly baseUrl?: string;
    readonly prefix: string;
    readonly secret?: string;
    readonly relativeUrls: boolean;
    readonly drainTimeoutMs: number;
    readonly tls?: {
      readonly certificate: string;
      readonly key: string;
      /** PEM files of the CAs client certificates must chain to; non-empty = mutual TLS required. */
      readonly clientCas: readonly string[];
      readonly minVersion: SecureVersion;
      /** OpenSSL cipher string (TLS 1.2 and 1.3 suites) from `http.tls.ciphersuites`. */
      readonly ciphers: string;
    };
    readonly headers: Readonly<Record<string, readonly string[]>>;
  };
  readonly storage: {
    readonly driver: string;
    readonly params: Readonly<Record<string, unknown>>;
    readonly deleteEnabled: boolean;
    readonly readOnly: boolean;
    readonly redirect: boolean;
    readonly uploadPurging: {
      readonly enabled: boolean;
      readonly ageMs: number;
      readonly intervalMs: number;
      readonly dryRun: boolean;
    };
  };
  readonly catalog: { readonly maxEntries: number };
  readonly berth: {
    readonly v1Enabled: boolean;
    /** The web UI at `/` for browsers and under `/ui/` (berth.ui.enabled, default true). */
    readonly uiEnabled: boolean;
    readonly maxManifestBytes: number;
    readonly maxBlobBytes: number;
    readonly headersTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly manifestCacheBytes: number;
    /** `berth.cache.linkttl`: how long tag and link lookups may be answered from memory (ms; 0: never). */
    readonly linkTtlMs: number;
    readonly maxTagsPage: number;
    /** Online garbage collection (src/ops/gc/online.ts); the grace period also applies to the CLI. */
    readonly gc: { readonly enabled: boolean; readonly intervalMs: number; readonly gracePeriodMs: number };
    /** Worker processes (`berth.workers`, `auto` resolved to the number of CPUs); 1 = no cluster. */
    readonly workers: number;
  };
  /**
   * The authentication and access sections as written (after env overrides): `auth` (distribution's
   * htpasswd/token), `berth.auth`, `berth.access`, `berth.ratelimit`, `berth.trustedproxies`.
   * Their meaning and validation belong to the auth room (src/auth/settings.ts).
   */
  readonly authSections: AuthSections;
  /** Metrics, debug listener, health checks, notifications (see ops-schema.ts). */
  readonly ops: OpsConfig;
  /** Pull-through cache upstreams (`proxy`, `berth.proxy.upstreams`; see proxy-schema.ts). */
  readonly proxy: ProxyConfig;
}
