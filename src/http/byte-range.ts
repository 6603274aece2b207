/**
 * Byte ranges: the one parser of a request's `Range: bytes=a-b | a- | -n` header (RFC 9110, a
 * single range), shared by every endpoint that serves content (v2 blobs, v1 layers).
 */

/** An inclusive byte range. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The requested range of content of `size` bytes: undefined when absent or not a single byte
 * range (serving the whole content is then allowed), 'invalid' when unsatisfiable.
 */
export function parseByteRange(value: string | undefined, size: number): ByteRange | 'invalid' | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (m === null) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return 'invalid';
  if (a === '') {
    const n = Number(b);
    return n === 0 || size === 0 ? 'invalid' : { start: Math.max(size - n, 0), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return 'invalid';
  return { start, end };
}
