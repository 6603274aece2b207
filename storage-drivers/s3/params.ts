/**
 * The `s3` driver's parameters (distribution's keys), their zod schema and the mapping to driver
 * options. Kept apart from the driver so validating a config does not load the AWS SDK.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** S3's smallest part (except the last) and largest single CopyObject. */
const MIN_PART_BYTES = 5 * MiB;
const MAX_SINGLE_COPY = 5 * GiB;

/** distribution's defaults and limits. */
export const DEFAULT_CHUNK_SIZE = 10 * MiB;
export const MAX_CHUNK_SIZE = 5 * GiB;
export const DEFAULT_MULTIPART_COPY_THRESHOLD = 32 * MiB;
export const DEFAULT_MULTIPART_COPY_CHUNK_SIZE = 32 * MiB;
export const DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY = 100;

const STORAGE_CLASSES = [
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'OUTPOSTS',
  'NONE',
] as const;

// ---------------------------------------------------------------------------------------------
// Parameters

/** A string; numbers are accepted too (environment overrides arrive YAML-parsed). */
const text = (what = 'a string') =>
  z
    .union([z.string(), z.number().transform(String)], {
      error: (issue) => (issue.input === undefined ? 'required' : `expected ${what}`),
    })
    .pipe(z.string().min(1, 'must not be empty'));

/** An integer, also as a decimal string. */
const integer = z
  .union([z.number(), z.string().regex(/^\s*\d+\s*$/).transform(Number)], { error: 'expected an integer' })
  .pipe(z.number({ error: 'expected an integer' }).int('expected an integer'));

const bytesBetween = (min: number, max: number) =>
  integer.pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

/** A boolean, also as the strings true/false. */
const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')], {
  error: 'expected a boolean',
});

/** Seconds as a positive number, a numeric string or a duration (`500ms`, `5s`, `1m`). */
const seconds = z
  .union([z.number(), z.string()], { error: 'expected seconds or a duration such as 5s' })
  .transform((value, context) => {
    const match = typeof value === 'number' ? null : /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
    const parsed = typeof value === 'number' ? value : match === null ? NaN : Number(match[1]) * (match[2] === 'ms' ? 0.001 : match[2] === 'm' ? 60 : 1);
    if (Number.isFinite(parsed) && parsed > 0) return parsed;
    context.addIssue({ code: 'custom', message: 'expected a positive number of seconds or a duration such as 5s' });
    return z.NEVER;
  });

/**
 * Connections one driver keeps to the backend (keep-alive; further requests wait for a free one
 * before any of their timers start, see timed-handler.ts).
 */
export const DEFAULT_MAX_SOCKETS = 64;

/** Timeout defaults (seconds): a hung backend answers 503 within 10 s on metadata operations. */
export const DEFAULT_TIMEOUTS = { connecttimeout: 3, responsetimeout: 5, idletimeout: 30, retrybudget: 8 } as const;

export const s3ParamsSchema = z
  .object({
    accesskey: text().optional(),
    secretkey: text().optional(),
    region: text().optional(),
    regionendpoint: text('a URL or host name').optional(),
    bucket: text().pipe(z.string().regex(/^[A-Za-z0-9._-]+$/, 'not a valid bucket name')),
    rootdirectory: z
      .string({ error: 'expected a string' })
      .default('')
      .refine((value) => value.split('/').every((segment) => segment !== '.' && segment !== '..'), {
        message: 'must not contain . or .. segments',
      }),
    forcepathstyle: flag.default(false),
    chunksize: bytesBetween(MIN_PART_BYTES, MAX_CHUNK_SIZE).default(DEFAULT_CHUNK_SIZE),
    multipartcopythresholdsize: bytesBetween(0, MAX_SINGLE_COPY).default(DEFAULT_MULTIPART_COPY_THRESHOLD),
    multipartcopychunksize: bytesBetween(MIN_PART_BYTES, MAX_CHUNK_SIZE).default(DEFAULT_MULTIPART_COPY_CHUNK_SIZE),
    multipartcopymaxconcurrency: integer
      .pipe(z.number().min(1, 'must be at least 1').max(1000, 'must be at most 1000'))
      .default(DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY),
    encrypt: flag.default(false),
    keyid: text().optional(),
    secure: flag.default(true),
    v4auth: flag
      .default(true)
      .refine((value) => value, { message: 'only true is supported (requests are signed with SigV4)' }),
    skipverify: flag.default(false),
    storageclass: z
      .string({ error: 'expected a string' })
      .transform((value) => value.toUpperCase())
      .pipe(z.enum(STORAGE_CLASSES, { error: `expected one of ${STORAGE_CLASSES.join(', ')}` }))
      .default('STANDARD'),
    connecttimeout: seconds.default(DEFAULT_TIMEOUTS.connecttimeout),
    responsetimeout: seconds.default(DEFAULT_TIMEOUTS.responsetimeout),
    idletimeout: seconds.default(DEFAULT_TIMEOUTS.idletimeout),
    retrybudget: seconds.default(DEFAULT_TIMEOUTS.retrybudget),
  })
  .strict()
  .superRefine((params, context) => {
    if (params.accesskey !== undefined && params.secretkey === undefined) {
      context.addIssue({ code: 'custom', path: ['secretkey'], message: 'required when accesskey is set' });
    }
    if (params.secretkey !== undefined && params.accesskey === undefined) {
      context.addIssue({ code: 'custom', path: ['accesskey'], message: 'required when secretkey is set' });
    }
    if (params.region === undefined && params.regionendpoint === undefined) {
      context.addIssue({ code: 'custom', path: ['region'], message: 'required (unless regionendpoint is set)' });
    }
    if (params.keyid !== undefined && !params.encrypt) {
      context.addIssue({ code: 'custom', path: ['keyid'], message: 'requires encrypt: true' });
    }
  });

export type S3Params = z.output<typeof s3ParamsSchema>;


export interface S3DriverOptions {
  readonly bucket: string;
  /** Key prefix (without leading or trailing slashes is fine; both are normalised). */
  readonly rootDirectory?: string;
  readonly region: string;
  /** Endpoint URL of an S3-compatible server (`http://127.0.0.1:8080`); default: AWS. */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  /** Static credentials; absent: the SDK's default credential chain. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Multipart part size of writers (default 10 MiB, at least 5 MiB). */
  readonly chunkSize?: number;
  readonly multipartCopyThreshold?: number;
  readonly multipartCopyChunkSize?: number;
  readonly multipartCopyMaxConcurrency?: number;
  /** Server-side encryption: AES256, or aws:kms with `kmsKeyId`. */
  readonly encrypt?: boolean;
  readonly kmsKeyId?: string;
  /** HTTPS (default true). */
  readonly secure?: boolean;
  /** Accept any TLS certificate. */
  readonly skipVerify?: boolean;
  /** Storage class of new objects; STANDARD and NONE send no header. */
  readonly storageClass?: string;
  /** TCP connect timeout (default 3 s). */
  readonly connectTimeoutMs?: number;
  /** Socket inactivity timeout of a request, including streaming its body (default 30 s). */
  readonly socketTimeoutMs?: number;
  /** Connections to the backend at once (default {@link DEFAULT_MAX_SOCKETS}). */
  readonly maxSockets?: number;
  /** Attempts per request, first included (default 3). */
  readonly maxAttempts?: number;
  /** Until the response headers of a small request (default 5 s). */
  readonly responseTimeoutMs?: number;
  /** One operation over all its attempts (default 8 s). */
  readonly budgetMs?: number;
  /**
   * Told how each resumed writer found its state (tests, metrics): `memory` when this process's
   * record of the session was still current, `list` when it listed the upload and its parts.
   */
  readonly onResume?: (how: 'list' | 'memory') => void;
}

/** Driver options from validated parameters. */
export function s3OptionsFromParams(params: S3Params): S3DriverOptions {
  const secure = params.secure;
  let endpoint = params.regionendpoint;
  if (endpoint !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) {
    endpoint = `${secure ? 'https' : 'http'}://${endpoint}`;
  }
  return {
    bucket: params.bucket,
    rootDirectory: params.rootdirectory,
    region: params.region ?? 'us-east-1',
    ...(endpoint === undefined ? {} : { endpoint }),
    forcePathStyle: params.forcepathstyle,
    ...(params.accesskey !== undefined && params.secretkey !== undefined
      ? { credentials: { accessKeyId: params.accesskey, secretAccessKey: params.secretkey } }
      : {}),
    chunkSize: params.chunksize,
    multipartCopyThreshold: params.multipartcopythresholdsize,
    multipartCopyChunkSize: params.multipartcopychunksize,
    multipartCopyMaxConcurrency: params.multipartcopymaxconcurrency,
    encrypt: params.encrypt,
    ...(params.keyid === undefined ? {} : { kmsKeyId: params.keyid }),
    secure,
    skipVerify: params.skipverify,
    storageClass: params.storageclass,
    connectTimeoutMs: Math.round(params.connecttimeout * 1000),
    responseTimeoutMs: Math.round(params.responsetimeout * 1000),
    socketTimeoutMs: Math.round(params.idletimeout * 1000),
    budgetMs: Math.round(params.retrybudget * 1000),
  };
}

