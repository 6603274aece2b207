/**
 * The external base URL of a request, in one place: `http.host` when configured, else
 * X-Forwarded-Proto/Host, else the Host header (sanitised), followed by `http.prefix`; just the
 * prefix when relative URLs are configured. Used by every front end that writes URLs (v2 Location
 * and Link headers, IMGAPI and SmartOS documents).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface UrlOptions {
  readonly baseUrl?: string;
  readonly prefix: string;
  readonly relative: boolean;
}

/** The first value of a (possibly repeated, possibly comma-joined) request header. */
export function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined ? undefined : (v.split(',')[0] ?? '').trim() || undefined;
}

export function requestBase(req: IncomingMessage, options: UrlOptions): string {
  if (options.relative) return options.prefix;
  if (options.baseUrl !== undefined) return options.baseUrl + options.prefix;
  const encrypted = (req.socket as Partial<TLSSocket>).encrypted === true;
  const proto = firstHeader(req, 'x-forwarded-proto') ?? (encrypted ? 'https' : 'http');
  const host = firstHeader(req, 'x-forwarded-host') ?? req.headers.host ?? 'localhost';
  const safeProto = proto === 'https' ? 'https' : 'http';
  const safeHost = /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? host : 'localhost';
  return `${safeProto}://${safeHost}${options.prefix}`;
}
