/**
 * Byte-level fixtures for the archive import tests: a raw ustar writer that can write any entry
 * type (symlinks, hard links, devices, PAX headers) and any declared size — what a hostile archive
 * is made of — and a zstd encoder that emits raw (stored) blocks, a valid zstd frame without any
 * compressor installed.
 */

export interface RawEntry {
  readonly name: string;
  /** ustar type flag: '0' file, '1' hard link, '2' symlink, '3' char device, '5' dir, 'x' PAX. */
  readonly type?: string;
  readonly data?: Uint8Array;
  readonly linkname?: string;
  /** Size written in the header (default: the data's length). */
  readonly declaredSize?: number;
}

const BLOCK = 512;

function put(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar fixture: ${value} does not fit in ${length} bytes`);
  bytes.copy(header, offset);
}

function octal(header: Buffer, offset: number, length: number, value: number): void {
  put(header, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

export function rawHeader(entry: RawEntry): Buffer {
  const header = Buffer.alloc(BLOCK);
  const type = entry.type ?? '0';
  put(header, 0, 100, entry.name);
  octal(header, 100, 8, type === '5' ? 0o755 : 0o644);
  octal(header, 108, 8, 0);
  octal(header, 116, 8, 0);
  octal(header, 124, 12, entry.declaredSize ?? entry.data?.length ?? 0);
  octal(header, 136, 12, 1_700_000_000);
  header.fill(0x20, 148, 156);
  put(header, 156, 1, type);
  if (entry.linkname !== undefined) put(header, 157, 100, entry.linkname);
  put(header, 257, 6, 'ustar\0');
  put(header, 263, 2, '00');
  let sum = 0;
  for (const byte of header) sum += byte;
  put(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** A tar of the entries, with the end-of-archive blocks unless `end` is false. */
export function rawTar(entries: readonly RawEntry[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(rawHeader(entry));
    const data = Buffer.from(entry.data ?? new Uint8Array(0));
    parts.push(data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  if (end) parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/** A zstd frame of raw blocks (no compression): what any zstd decoder must accept. */
export function zstdStored(data: Uint8Array): Buffer {
  const MAX_BLOCK = 128 * 1024;
  // Frame header: magic, descriptor 0 (no content size, no checksum), window 2^17.
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])];
  let offset = 0;
  do {
    const size = Math.min(MAX_BLOCK, data.length - offset);
    const last = offset + size >= data.length ? 1 : 0;
    const head = (size << 3) | (0 << 1) | last;
    parts.push(Buffer.from([head & 0xff, (head >> 8) & 0xff, (head >> 16) & 0xff]), Buffer.from(data.subarray(offset, offset + size)));
    offset += size;
  } while (offset < data.length);
  return Buffer.concat(parts);
}
