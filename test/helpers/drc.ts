/**
 * Promise wrappers around Joyent's callback-style `docker-registry-client` (the library SmartOS
 * imgadm vendors), configured the way imgadm configures it: one v2 client per repository, built
 * from `host:port/repo/name`, with `insecure`, `maxSchemaVersion: 2` and no credentials. A silent
 * logger stands in for bunyan and keeps what the library logged for failure messages.
 */
import { PassThrough } from 'node:stream';
import drc, {
  type BlobReadStream,
  type MaybeError,
  type RegistryClientV2,
  type RegistryLogger,
  type RegistryResponse,
} from 'docker-registry-client';

/** What the library logged (level, then its arguments), newest last. */
export type LogRecord = readonly [level: string, ...args: unknown[]];

export function createMemoryLogger(records: LogRecord[] = []): RegistryLogger & { readonly records: LogRecord[] } {
  const at =
    (level: string) =>
    (...args: unknown[]): boolean => {
      // bunyan's `log.trace()` with no arguments asks "is this level enabled?"; answer no.
      if (args.length > 0 && level !== 'trace') records.push([level, ...args]);
      return false;
    };
  const logger: RegistryLogger & { readonly records: LogRecord[] } = {
    records,
    child: () => logger,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  };
  return logger;
}

/** An HTTP error as the library reports it, with the status code when there was a response. */
export class DrcError extends Error {
  constructor(
    readonly operation: string,
    readonly statusCode: number | undefined,
    override readonly cause: Error,
  ) {
    super(`${operation}: ${statusCode === undefined ? '' : `HTTP ${statusCode}: `}${cause.message}`);
  }
}

function fail(operation: string, err: NonNullable<MaybeError>, res?: RegistryResponse): DrcError {
  return new DrcError(operation, err.statusCode ?? res?.statusCode, err);
}

export interface ManifestResult {
  readonly manifest: Record<string, unknown>;
  /** The body as received. */
  readonly manifestStr: string;
  readonly res: RegistryResponse;
  /** `Docker-Content-Digest` of the response, if any. */
  readonly digest: string | undefined;
}

export interface BlobResult {
  readonly bytes: Buffer;
  /** Every response, redirects included; the last one carried the body. */
  readonly ress: readonly RegistryResponse[];
  readonly headers: BlobReadStream['headers'];
}

export interface PutManifestResult {
  readonly res: RegistryResponse | undefined;
  readonly digest: string | undefined;
  readonly location: string | undefined;
}

function header(res: RegistryResponse, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface DrcOptions {
  /** `host:port` of the registry. */
  readonly host: string;
  /** Repository path, e.g. `e2e/imgadm`. */
  readonly repo: string;
  readonly log?: RegistryLogger;
  readonly acceptManifestLists?: boolean;
}

/** A promise-based view of one RegistryClientV2. */
export class Drc {
  readonly client: RegistryClientV2;
  readonly log: RegistryLogger;

  constructor(options: DrcOptions) {
    this.log = options.log ?? createMemoryLogger();
    this.client = drc.createClientV2({
      name: `${options.host}/${options.repo}`,
      scheme: 'http',
      insecure: true,
      maxSchemaVersion: 2,
      log: this.log,
      ...(options.acceptManifestLists === undefined ? {} : { acceptManifestLists: options.acceptManifestLists }),
    });
  }

  close(): void {
    this.client.close();
  }

  ping(): Promise<{ readonly body: unknown; readonly res: RegistryResponse }> {
    return new Promise((resolve, reject) => {
      this.client.ping((err, body, res) => {
        if (err) reject(fail('ping', err, res));
        else if (res === undefined) reject(new Error('ping: no response'));
        else resolve({ body, res });
      });
    });
  }

  supportsV2(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.client.supportsV2((err, supported) => (err ? reject(fail('supportsV2', err)) : resolve(supported)));
    });
  }

  listTags(): Promise<{ readonly name: unknown; readonly tags: readonly string[] }> {
    return new Promise((resolve, reject) => {
      this.client.listTags((err, body, res) => {
        if (err) {
          reject(fail('listTags', err, res));
          return;
        }
        if (!isRecord(body) || !Array.isArray(body.tags) || !body.tags.every((t) => typeof t === 'string')) {
          reject(new Error(`listTags: unexpected body ${JSON.stringify(body)}`));
          return;
        }
        resolve({ name: body.name, tags: body.tags.map(String) });
      });
    });
  }

  getManifest(ref: string, options: { readonly acceptManifestLists?: boolean } = {}): Promise<ManifestResult> {
    return new Promise((resolve, reject) => {
      this.client.getManifest({ ref, maxSchemaVersion: 2, ...options }, (err, manifest, res, manifestStr) => {
        if (err) reject(fail(`getManifest ${ref}`, err, res));
        else if (res === undefined || manifestStr === undefined || !isRecord(manifest)) {
          reject(new Error(`getManifest ${ref}: no manifest`));
        } else resolve({ manifest, manifestStr, res, digest: header(res, 'docker-content-digest') });
      });
    });
  }

  headBlob(digest: string): Promise<readonly RegistryResponse[]> {
    return new Promise((resolve, reject) => {
      this.client.headBlob({ digest }, (err, ress) => {
        if (err) reject(fail(`headBlob ${digest}`, err, ress?.at(-1)));
        else resolve(ress ?? []);
      });
    });
  }

  /** Streams a blob to memory; the library checks Docker-Content-Digest and Content-Length on the way. */
  readBlob(digest: string): Promise<BlobResult> {
    return new Promise((resolve, reject) => {
      this.client.createBlobReadStream({ digest }, (err, stream, ress) => {
        if (err) {
          reject(fail(`createBlobReadStream ${digest}`, err, ress?.at(-1)));
          return;
        }
        if (stream === null) {
          reject(new Error(`createBlobReadStream ${digest}: no stream`));
          return;
        }
        const chunks: Buffer[] = [];
        let failed = false;
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('error', (streamErr: Error) => {
          failed = true;
          reject(new DrcError(`read blob ${digest}`, stream.statusCode, streamErr));
        });
        // The library's own 'end' listener (registered first) emits 'error' on a bad size or digest.
        stream.on('end', () => {
          if (!failed) resolve({ bytes: Buffer.concat(chunks), ress: ress ?? [], headers: stream.headers });
        });
        stream.resume();
      });
    });
  }

  blobUpload(digest: string, bytes: Buffer, contentType?: string): Promise<RegistryResponse | undefined> {
    const stream = new PassThrough();
    stream.end(bytes);
    return new Promise((resolve, reject) => {
      this.client.blobUpload(
        { digest, contentLength: bytes.length, stream, ...(contentType === undefined ? {} : { contentType }) },
        (err, res) => (err ? reject(fail(`blobUpload ${digest}`, err, res)) : resolve(res)),
      );
    });
  }

  putManifest(ref: string, manifest: string): Promise<PutManifestResult> {
    return new Promise((resolve, reject) => {
      this.client.putManifest({ ref, manifest }, (err, res, digest, location) => {
        if (err) reject(fail(`putManifest ${ref}`, err, res));
        else resolve({ res, digest, location });
      });
    });
  }
}

/** imgadm's `pingV2` call for a docker source: GET /v2/ once, no retries. */
export function pingV2(index: string, log: RegistryLogger = createMemoryLogger()): Promise<{ readonly body: unknown; readonly res: RegistryResponse }> {
  return new Promise((resolve, reject) => {
    drc.pingV2({ index, insecure: true, log }, (err, body, res) => {
      if (err) reject(fail('pingV2', err, res));
      else if (res === undefined) reject(new Error('pingV2: no response'));
      else resolve({ body, res });
    });
  });
}

/** The library's version auto-detection (`createClient` without `version`). */
export function detectApiVersion(host: string, repo: string, log: RegistryLogger = createMemoryLogger()): Promise<number> {
  return new Promise((resolve, reject) => {
    drc.createClient({ name: `${host}/${repo}`, scheme: 'http', insecure: true, maxSchemaVersion: 2, log }, (err, client) => {
      if (err) reject(fail('createClient', err));
      else if (client === undefined) reject(new Error('createClient: no client'));
      else {
        client.close();
        resolve(client.version);
      }
    });
  });
}

/** The library's digest of a manifest body (what a pulling client would compute). */
export function digestFromManifestStr(manifestStr: string): string {
  return drc.digestFromManifestStr(manifestStr);
}
