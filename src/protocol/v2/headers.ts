/**
 * HTTP header helpers for v2: upload Content-Range parsing, declared body length, Accept parsing,
 * and finishing empty responses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../../errors/registry-error.js';

import type { ByteRange } from '../../http/byte-range.js';

/** Upload `Content-Range: <start>-<end>` (inclusive); tolerates a `bytes ` / `bytes=` prefix. */
export function parseContentRange(value: string | undefined): ByteRange | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d{1,15})-(\d{1,15})(?:\/(?:\d+|\*))?$/.exec(value.trim());
  if (m === null) throw new RegistryError('RANGE_INVALID', { message: 'malformed Content-Range', detail: { contentRange: value.slice(0, 100) } });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', { message: 'Content-Range end before start' });
  return { start, end };
}

/** Content-Length as a number, undefined when absent; malformed → 400. */
export function contentLength(req: IncomingMessage): number | undefined {
  const value = req.headers['content-length'];
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new RegistryError('SIZE_INVALID', { message: 'malformed Content-Length' });
  return Number(value);
}

/** True when the request carries a body (a non-zero Content-Length or chunked transfer). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** Media types listed in (possibly several) Accept headers, without parameters. */
export function acceptedTypes(req: IncomingMessage): Set<string> {
  const out = new Set<string>();
  const raw = req.headersDistinct['accept'] ?? [];
  for (const header of raw) {
    for (const part of header.split(',')) {
      const type = (part.split(';')[0] ?? '').trim().toLowerCase();
      if (type !== '') out.add(type);
    }
  }
  return out;
}

export function endEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Length', 0);
  res.end();
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', payload.length);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

/** Parses a pagination `n`; undefined when absent. */
export function parseN(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new RegistryError('PAGINATION_NUMBER_INVALID', { detail: { n: value.slice(0, 20) } });
  return Number(value);
}
