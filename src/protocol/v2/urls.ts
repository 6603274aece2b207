/**
 * Builds the URLs Berth returns in Location and Link headers, in one place: absolute by default
 * (from `http.host`, else X-Forwarded-Proto/Host, else the Host header), relative when
 * `http.relativeurls` is set.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface UrlOptions {
  readonly baseUrl?: string;
  readonly prefix: string;
  readonly relative: boolean;
}

function firstHeader(req: IncomingMessage, name: string): string | undefined {
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

export class UrlBuilder {
  constructor(
    private readonly req: IncomingMessage,
    private readonly options: UrlOptions,
  ) {}

  private base(): string {
    return requestBase(this.req, this.options);
  }

  blob(name: string, digest: string): string {
    return `${this.base()}/v2/${name}/blobs/${digest}`;
  }

  manifest(name: string, reference: string): string {
    return `${this.base()}/v2/${name}/manifests/${reference}`;
  }

  upload(name: string, id: string, state: string | undefined): string {
    const query = state === undefined ? '' : `?_state=${encodeURIComponent(state)}`;
    return `${this.base()}/v2/${name}/blobs/uploads/${id}${query}`;
  }

  /** Path-only link (for `Link: <…>; rel="next"`), as distribution sends it. */
  path(path: string, query: Record<string, string>): string {
    const qs = new URLSearchParams(query).toString();
    return `${this.options.prefix}${path}${qs === '' ? '' : `?${qs}`}`;
  }
}
