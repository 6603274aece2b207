/**
 * Minimal POSIX ustar writer for test fixtures: directories and regular files only, names up to
 * 100 bytes (no prefix splitting), fixed owner and mtime so the same entries always give the same
 * bytes. Enough to build real image layers that tar, skopeo and imgadm accept.
 */

export interface TarEntry {
  /** Relative path; directories end with "/". */
  readonly name: string;
  /** File contents; omitted for directories. */
  readonly data?: Uint8Array;
  /** Permission bits; 0o644 for files and 0o755 for directories when absent. */
  readonly mode?: number;
  /** Modification time in seconds since the epoch; 0 when absent. */
  readonly mtime?: number;
}

const BLOCK = 512;

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar: "${value}" does not fit in ${length} bytes`);
  bytes.copy(header, offset);
}

/** Octal number, zero-padded to length - 1 digits and NUL-terminated. */
function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  writeString(header, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function headerFor(entry: TarEntry, isDir: boolean, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  writeString(header, 0, 100, entry.name);
  writeOctal(header, 100, 8, entry.mode ?? (isDir ? 0o755 : 0o644));
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, entry.mtime ?? 0);
  header.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  writeString(header, 156, 1, isDir ? '5' : '0');
  writeString(header, 257, 6, 'ustar\0');
  writeString(header, 263, 2, '00');
  writeString(header, 265, 32, 'root');
  writeString(header, 297, 32, 'root');
  let sum = 0;
  for (const byte of header) sum += byte;
  writeString(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** Serialises the entries as a complete archive (with the two zero end-of-archive blocks). */
export function createTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const isDir = entry.name.endsWith('/');
    const data = isDir ? Buffer.alloc(0) : Buffer.from(entry.data ?? new Uint8Array(0));
    parts.push(headerFor(entry, isDir, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
