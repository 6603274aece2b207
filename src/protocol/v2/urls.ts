/**
 * Builds the URLs the v2 API returns in Location and Link headers, in one place, over the
 * request's base URL (`http/request-base.ts`): absolute by default, relative when
 * `http.relativeurls` is set.
 */
import type { IncomingMessage } from 'node:http';
import { requestBase, type UrlOptions } from '../../http/request-base.js';


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
