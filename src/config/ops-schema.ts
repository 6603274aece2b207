/**
 * Configuration of the operations features: metrics (`berth.metrics`, distribution's
 * `http.debug` listener with `http.debug.prometheus`), the background storage health check
 * (`health.storagedriver`) and webhook notifications (`notifications.endpoints`). The zod schemas
 * here are plugged into the raw schema of `schema.ts`; {@link normaliseOps} turns the parsed
 * sections into the {@link OpsConfig} every component receives (as `config.ops`).
 */
import { z } from 'zod';
import { parseAddr } from './addr.js';
import { parseDuration } from './duration.js';

const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const text = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string());
const count = z.preprocess((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v), z.number().int().nonnegative());
const duration = z.unknown().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like "1s" or "500ms", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return ms;
});
const textList = z.array(text);

/** `http.debug` (distribution): a second listener; `prometheus` puts the metrics there. */
export const httpDebugSchema = z
  .object({
    addr: text.optional(),
    prometheus: z.object({ enabled: flag.optional(), path: text.optional() }).optional(),
  })
  .optional();

/** `health` (distribution): only `storagedriver` is implemented (file/http/tcp are warned about). */
export const healthSchema = z
  .object({
    storagedriver: z
      .object({ enabled: flag.optional(), interval: duration.optional(), threshold: count.optional() })
      .optional(),
  })
  .optional();

const endpointSchema = z.object({
  name: text,
  url: text,
  headers: z.record(z.string(), z.union([textList, text])).optional(),
  timeout: duration.optional(),
  threshold: count.optional(),
  backoff: duration.optional(),
  ignoredmediatypes: textList.optional(),
  ignore: z.object({ mediatypes: textList.optional(), actions: textList.optional() }).optional(),
  disabled: flag.optional(),
});

/** `notifications` (distribution). */
export const notificationsSchema = z
  .object({
    events: z.object({ includereferences: flag.optional() }).optional(),
    endpoints: z.array(endpointSchema).optional(),
  })
  .optional();

/** `berth.metrics`. */
export const berthMetricsSchema = z.object({ enabled: flag.optional() }).optional();

export interface NotificationEndpointConfig {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly timeoutMs: number;
  /** Consecutive failures before the endpoint backs off. */
  readonly threshold: number;
  readonly backoffMs: number;
  /** `ignoredmediatypes` and `ignore.mediatypes` merged. */
  readonly ignoredMediaTypes: readonly string[];
  readonly ignoredActions: readonly string[];
}

export interface OpsConfig {
  readonly metrics: {
    readonly enabled: boolean;
    /** Path of the metrics endpoint (`http.debug.prometheus.path` or `/metrics`). */
    readonly path: string;
    /** Set when metrics are served on the debug listener (then not on the main port). */
    readonly onDebugListener: boolean;
  };
  /** The `http.debug.addr` listener, when configured. */
  readonly debug?: { readonly host: string; readonly port: number };
  readonly health: {
    readonly storageDriver: { readonly enabled: boolean; readonly intervalMs: number; readonly threshold: number };
  };
  /** Enabled endpoints only (`disabled: true` ones are left out). */
  readonly notifications: { readonly endpoints: readonly NotificationEndpointConfig[] };
}

export interface RawOps {
  readonly debug: z.infer<typeof httpDebugSchema>;
  readonly health: z.infer<typeof healthSchema>;
  readonly notifications: z.infer<typeof notificationsSchema>;
  readonly metrics: z.infer<typeof berthMetricsSchema>;
}

/** Builds {@link OpsConfig}; problems (bad addresses, URLs, names) are pushed onto `problems`. */
export function normaliseOps(raw: RawOps, problems: string[]): OpsConfig {
  let debug: { host: string; port: number } | undefined;
  if (raw.debug?.addr !== undefined) {
    debug = parseAddr(raw.debug.addr);
    if (debug === undefined) problems.push(`http.debug.addr: expected "host:port" or ":port", got ${JSON.stringify(raw.debug.addr)}`);
  }
  let path = raw.debug?.prometheus?.path ?? '/metrics';
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(path)) {
    problems.push(`http.debug.prometheus.path: expected an absolute path, got ${JSON.stringify(path)}`);
    path = '/metrics';
  }
  const onDebugListener = debug !== undefined && raw.debug?.prometheus?.enabled === true;
  const check = raw.health?.storagedriver;
  const endpoints: NotificationEndpointConfig[] = [];
  const names = new Set<string>();
  (raw.notifications?.endpoints ?? []).forEach((e, i) => {
    const at = `notifications.endpoints.${i}`;
    if (names.has(e.name)) problems.push(`${at}.name: duplicate endpoint name ${JSON.stringify(e.name)}`);
    names.add(e.name);
    let url: URL | undefined;
    try {
      url = new URL(e.url);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      problems.push(`${at}.url: expected an absolute http(s) URL`);
      return;
    }
    if (e.disabled === true) return;
    const headers: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(e.headers ?? {})) headers[k] = Array.isArray(v) ? v : [v];
    // distribution: a timeout, threshold or backoff that is absent or <= 0 takes the default.
    endpoints.push({
      name: e.name,
      url: e.url,
      headers,
      timeoutMs: e.timeout !== undefined && e.timeout > 0 ? e.timeout : 1000,
      threshold: e.threshold !== undefined && e.threshold > 0 ? e.threshold : 10,
      backoffMs: e.backoff !== undefined && e.backoff > 0 ? e.backoff : 1000,
      ignoredMediaTypes: [...new Set([...(e.ignoredmediatypes ?? []), ...(e.ignore?.mediatypes ?? [])])],
      ignoredActions: [...(e.ignore?.actions ?? [])],
    });
  });
  return {
    metrics: { enabled: raw.metrics?.enabled ?? true, path: onDebugListener ? path : '/metrics', onDebugListener },
    ...(debug !== undefined ? { debug } : {}),
    health: {
      storageDriver: {
        enabled: check?.enabled ?? false,
        intervalMs: check?.interval !== undefined && check.interval > 0 ? check.interval : 10_000,
        threshold: check?.threshold !== undefined && check.threshold > 0 ? check.threshold : 1,
      },
    },
    notifications: { endpoints },
  };
}
