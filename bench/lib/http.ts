/**
 * bench/lib/http.ts — a lean HTTP/1.1 client on node:http for the control
 * requests (POST upload, PATCH chunks, manifest PUT, verification pulls).
 * Bodies are sent as whole Buffers (no streams, no copies); response bodies
 * are either collected, hashed on the fly, or discarded.
 */
import { createHash } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  method: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer;
  agent?: Agent;
  timeoutMs?: number;
}

/** A keep-alive agent with a single socket: chunked uploads reuse one connection. */
export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

export function request(url: string, opts: RequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers: OutgoingHttpHeaders = { ...(opts.headers ?? {}) };
    if (opts.body !== undefined) headers['content-length'] = opts.body.length;
    else if (opts.method === 'PUT' || opts.method === 'POST' || opts.method === 'PATCH') headers['content-length'] = 0;
    const req = httpRequest(
      url,
      { method: opts.method, headers, agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 120_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${opts.method} ${url}`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export interface HashedGet {
  status: number;
  headers: IncomingHttpHeaders;
  bytes: number;
  digest: string;
}

/** GET `url`, hashing the body with sha256 as it streams (never buffered). */
export function getHashed(url: string, timeoutMs = 300_000): Promise<HashedGet> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      const h = createHash('sha256');
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        h.update(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, digest: `sha256:${h.digest('hex')}` }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** First value of a response header as a string (or undefined). */
export function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Resolves a Location header (relative or absolute) against `base`. */
export function resolveLocation(loc: string, base: string): string {
  return new URL(loc, base).toString();
}

/** Appends `digest=` to an upload URL, keeping its existing query intact. */
export function withDigest(loc: string, digest: string): string {
  return `${loc}${loc.includes('?') ? '&' : '?'}digest=${digest}`;
}
