/**
 * Minimal type declarations for Joyent's `docker-registry-client` 3.4 (plain JS, no bundled types),
 * covering only the v2 calls the end-to-end suite makes: createClientV2, pingV2, createClient
 * (v1/v2 auto-detection), and the client's ping, supportsV2, listTags, getManifest, headBlob,
 * createBlobReadStream, blobUpload, putManifest and close. Shapes follow
 * lib/registry-client-v2.js; values the library passes through unparsed are `unknown`.
 */
declare module 'docker-registry-client' {
  import type { IncomingHttpHeaders } from 'node:http';
  import type { Readable } from 'node:stream';

  /** The bunyan-like logger the library (and restify-clients) call into. */
  export interface RegistryLogger {
    child(fields: Record<string, unknown>): RegistryLogger;
    trace(...args: unknown[]): boolean | void;
    debug(...args: unknown[]): boolean | void;
    info(...args: unknown[]): boolean | void;
    warn(...args: unknown[]): boolean | void;
    error(...args: unknown[]): boolean | void;
    fatal(...args: unknown[]): boolean | void;
  }

  /** A restify client response (an http.IncomingMessage). */
  export interface RegistryResponse {
    readonly statusCode: number;
    readonly headers: IncomingHttpHeaders;
  }

  /** A readable HTTP response body, handed over paused. */
  export interface BlobReadStream extends Readable {
    readonly statusCode: number;
    readonly headers: IncomingHttpHeaders;
  }

  /** restify-errors / verror errors; `statusCode` is set for HTTP errors. */
  export interface RegistryError extends Error {
    readonly statusCode?: number;
    readonly body?: unknown;
    readonly restCode?: string;
  }

  export type MaybeError = RegistryError | null | undefined;

  export interface ClientV2Options {
    /** `[host[:port]/]repo/name`, parsed with the library's parseRepo. */
    readonly name: string;
    readonly log?: RegistryLogger;
    readonly insecure?: boolean;
    readonly scheme?: 'http' | 'https';
    readonly maxSchemaVersion?: 1 | 2;
    readonly acceptManifestLists?: boolean;
    readonly userAgent?: string;
    readonly username?: string;
    readonly password?: string;
    readonly token?: string;
  }

  export interface GetManifestOptions {
    readonly ref: string;
    readonly maxSchemaVersion?: 1 | 2;
    readonly acceptManifestLists?: boolean;
    readonly followRedirects?: boolean;
  }

  export interface BlobUploadOptions {
    readonly digest: string;
    readonly contentLength: number;
    readonly stream: Readable;
    readonly contentType?: string;
    readonly log?: RegistryLogger;
  }

  export interface PutManifestOptions {
    /** The manifest exactly as it is to be stored. */
    readonly manifest: string;
    readonly ref: string;
    readonly log?: RegistryLogger;
  }

  export interface RegistryClientV2 {
    readonly version: 2;
    ping(cb: (err: MaybeError, body: unknown, res: RegistryResponse | undefined) => void): void;
    supportsV2(cb: (err: MaybeError, supported: boolean) => void): void;
    listTags(cb: (err: MaybeError, tags: unknown, res: RegistryResponse | undefined) => void): void;
    getManifest(
      opts: GetManifestOptions,
      cb: (err: MaybeError, manifest: unknown, res: RegistryResponse | undefined, manifestStr: string | undefined) => void,
    ): void;
    headBlob(opts: { readonly digest: string }, cb: (err: MaybeError, ress: RegistryResponse[] | undefined) => void): void;
    createBlobReadStream(
      opts: { readonly digest: string },
      cb: (err: MaybeError, stream: BlobReadStream | null, ress: RegistryResponse[] | undefined) => void,
    ): void;
    blobUpload(opts: BlobUploadOptions, cb: (err: MaybeError, res: RegistryResponse | undefined) => void): void;
    putManifest(
      opts: PutManifestOptions,
      cb: (err: MaybeError, res: RegistryResponse | undefined, digest: string | undefined, location: string | undefined) => void,
    ): void;
    close(): void;
  }

  export interface PingV2Options {
    /** Index name (`host:port`) or URL (`http://host:port`). */
    readonly index: string;
    readonly insecure?: boolean;
    readonly log?: RegistryLogger;
    readonly userAgent?: string;
  }

  export function createClientV2(opts: ClientV2Options): RegistryClientV2;
  export function pingV2(opts: PingV2Options, cb: (err: MaybeError, body: unknown, res: RegistryResponse | undefined) => void): void;
  /** Auto-detects the API version with GET /v2/; calls back with a v2 client or a v1 one. */
  export function createClient(
    opts: ClientV2Options & { readonly version?: 1 | 2 },
    cb: (err: MaybeError, client: { readonly version: number; close(): void } | undefined) => void,
  ): void;
  export function digestFromManifestStr(manifestStr: string): string;

  // ---- v1 client (lib/registry-client-v1.js), as SmartOS imgadm 3.0–3.7 used it

  export interface ClientV1Options {
    /** `[host[:port]/]repo/name`, parsed with the library's parseRepo. */
    readonly name: string;
    readonly log?: RegistryLogger;
    readonly insecure?: boolean;
    readonly scheme?: 'http' | 'https';
    readonly userAgent?: string;
    readonly username?: string;
    readonly password?: string;
  }

  export interface RegistryClientV1 {
    readonly version: 1;
    /** Set from `X-Docker-Token` once the session was established (listRepoImgs). */
    readonly token?: string;
    ping(cb: (err: MaybeError, body: unknown, res: RegistryResponse | undefined) => void): void;
    search(opts: { readonly term: string }, cb: (err: MaybeError, hits: unknown, res: RegistryResponse | undefined) => void): void;
    listRepoImgs(cb: (err: MaybeError, repoImgs: unknown, res: RegistryResponse | undefined) => void): void;
    listRepoTags(cb: (err: MaybeError, repoTags: unknown, res: RegistryResponse | undefined) => void): void;
    getImgId(opts: { readonly tag: string }, cb: (err: MaybeError, imgId: unknown, res: RegistryResponse | undefined) => void): void;
    getImgAncestry(opts: { readonly imgId: string }, cb: (err: MaybeError, ancestry: unknown, res: RegistryResponse | undefined) => void): void;
    getImgJson(opts: { readonly imgId: string }, cb: (err: MaybeError, imgJson: unknown, res: RegistryResponse | undefined) => void): void;
    /** A paused stream of the layer (the final, non-302 response). */
    getImgLayerStream(opts: { readonly imgId: string }, cb: (err: MaybeError, stream: BlobReadStream | undefined) => void): void;
    close(): void;
  }

  export interface PingIndexV1Options {
    /** Index name (`host:port`) or URL (`http://host:port`). */
    readonly indexName: string;
    readonly insecure?: boolean;
    readonly log?: RegistryLogger;
    readonly userAgent?: string;
  }

  export interface LoginV1Options {
    readonly indexName: string;
    readonly username: string;
    readonly email: string;
    readonly password: string;
    readonly insecure?: boolean;
    readonly log?: RegistryLogger;
  }

  export function createClientV1(opts: ClientV1Options): RegistryClientV1;
  export function pingIndexV1(opts: PingIndexV1Options, cb: (err: MaybeError, body: unknown, res: RegistryResponse | undefined) => void): void;
  export function loginV1(opts: LoginV1Options, cb: (err: MaybeError, result: { readonly status: string } | undefined) => void): void;
}
