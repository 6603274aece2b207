/**
 * The HTTP/1.1 text around a pooled GET (`reader.ts`): the request head it sends, and the response
 * head it reads back — parsed only as far as the happy path needs. A response is used directly
 * only when it is exactly the bytes asked for, with a known length: 200 when no range was asked,
 * 206 whose Content-Range starts at the asked offset; a Content-Length and no Transfer-Encoding.
 * Everything else (errors, redirects, chunked or unbounded bodies, anything this parser does not
 * understand) is left to the driver's regular client, which maps every status to a driver error.
 */

export interface ResponseHead {
  readonly status: number;
  /** Lower-cased names; a header sent more than once has its values joined with `, `. */
  readonly headers: ReadonlyMap<string, string>;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const DIGITS = /^\d{1,15}$/;
const CONTENT_RANGE = /^bytes (\d{1,15})-(\d{1,15})\/(?:\d{1,15}|\*)$/;

/** Offset just past the `\r\n\r\n` ending the head within `bytes`, or -1 while it is incomplete. */
export function headEnd(bytes: Buffer, searchFrom: number): number {
  const at = bytes.indexOf('\r\n\r\n', Math.max(0, searchFrom - 3), 'latin1');
  return at < 0 ? -1 : at + 4;
}

/** The status and headers of a response head (without its final blank line); undefined if malformed. */
export function parseResponseHead(text: string): ResponseHead | undefined {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0] ?? '');
  if (status === null) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) return undefined;
    const value = line.slice(colon + 1).trim();
    const earlier = headers.get(name);
    headers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
  }
  return { status: Number(status[1]), headers };
}

/** The Range header value for a read, or undefined for the whole object. */
export function rangeHeader(offset: number, length: number | undefined): string | undefined {
  if (offset === 0 && length === undefined) return undefined;
  return `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`;
}

/**
 * The body length when `head` answers a read of `length` bytes (undefined: to the end) from
 * `offset` with exactly those bytes; undefined when it does not (the caller falls back).
 */
export function happyBodyLength(head: ResponseHead, offset: number, length: number | undefined): number | undefined {
  if (head.headers.has('transfer-encoding')) return undefined;
  const declared = head.headers.get('content-length');
  if (declared === undefined || !DIGITS.test(declared)) return undefined;
  const bytes = Number(declared);
  const ranged = rangeHeader(offset, length) !== undefined;
  if (head.status === 200) return ranged ? undefined : bytes;
  if (head.status !== 206 || !ranged) return undefined;
  const range = CONTENT_RANGE.exec(head.headers.get('content-range') ?? '');
  if (range === null) return undefined;
  const start = Number(range[1]);
  const end = Number(range[2]);
  if (start !== offset || end < start || end - start + 1 !== bytes) return undefined;
  if (length !== undefined && bytes > length) return undefined;
  return bytes;
}

/** The request head of `GET url` (path and query as given), one connection per request. */
export function requestHead(url: URL, headers: Readonly<Record<string, string>>, range: string | undefined): string {
  let head = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name.toLowerCase()) || /[\r\n\0]/.test(value)) throw new TypeError(`invalid request header ${JSON.stringify(name)}`);
    head += `${name}: ${value}\r\n`;
  }
  if (range !== undefined) head += `Range: ${range}\r\n`;
  return `${head}Connection: close\r\n\r\n`;
}
