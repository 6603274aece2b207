/**
 * A pass-through check of a tar stream's block structure, placed in front of the tar parser: it
 * reads every header block itself and refuses, before the parser buffers anything, a PAX or GNU
 * long-name header larger than `maxHeaderBytes` (tar-stream would hold such a header in memory
 * whole), sizes beyond 2^53, and remembers whether the end-of-archive block was seen (an archive
 * without one is truncated). Bytes after the end-of-archive block are ignored.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { ArchiveError } from './archive-error.js';

const BLOCK = 512;
const LONG_HEADER_TYPES = new Set(['x', 'g', 'L', 'K']);

export class TarGuard extends Transform {
  /** True once a zero block stood where a header was expected. */
  ended = false;
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Data bytes (with padding) still to pass before the next header. */
  private skip = 0;
  /** The data of a PAX header being read (its `size=` record applies to the next entry). */
  private pax: Buffer[] | undefined;
  private paxLeft = 0;
  private nextSize: number | undefined;

  constructor(private readonly maxHeaderBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.ended) {
      callback();
      return;
    }
    let offset = 0;
    let passUntil = chunk.length;
    try {
      while (offset < chunk.length) {
        if (this.skip > 0) {
          const n = Math.min(this.skip, chunk.length - offset);
          if (this.pax !== undefined && this.paxLeft > 0) {
            const take = Math.min(n, this.paxLeft);
            this.pax.push(Buffer.from(chunk.subarray(offset, offset + take)));
            this.paxLeft -= take;
            if (this.paxLeft === 0) this.nextSize = paxSize(Buffer.concat(this.pax));
          }
          this.skip -= n;
          offset += n;
          continue;
        }
        const n = Math.min(BLOCK - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + n);
        this.headerFill += n;
        offset += n;
        if (this.headerFill < BLOCK) break;
        this.headerFill = 0;
        if (this.header.every((b) => b === 0)) {
          this.ended = true;
          passUntil = offset;
          break;
        }
        const type = String.fromCharCode(this.header[156] ?? 0x30);
        let size = this.entrySize();
        if (!LONG_HEADER_TYPES.has(type) && this.nextSize !== undefined) size = this.nextSize;
        if (!LONG_HEADER_TYPES.has(type)) this.nextSize = undefined;
        if (LONG_HEADER_TYPES.has(type) && size > this.maxHeaderBytes) {
          throw new ArchiveError(`tar: a ${type === 'x' || type === 'g' ? 'PAX' : 'GNU long-name'} header of ${size} bytes (more than the ${this.maxHeaderBytes} accepted)`);
        }
        this.pax = type === 'x' && size > 0 ? [] : undefined;
        this.paxLeft = type === 'x' ? size : 0;
        this.skip = Math.ceil(size / BLOCK) * BLOCK;
      }
    } catch (error) {
      callback(error as Error);
      return;
    }
    // The zero block itself goes to the parser too, so that it finishes cleanly.
    callback(null, passUntil === chunk.length ? chunk : chunk.subarray(0, passUntil));
  }

  private entrySize(): number {
    const field = this.header.subarray(124, 136);
    if (((field[0] ?? 0) & 0x80) !== 0) {
      // GNU base-256: big-endian, the top bit of the first byte marks it.
      let value = (field[0] ?? 0) & 0x7f;
      for (let i = 1; i < field.length; i++) {
        value = value * 256 + (field[i] ?? 0);
        if (value > Number.MAX_SAFE_INTEGER) throw new ArchiveError('tar: an entry size beyond 2^53 bytes');
      }
      return value;
    }
    const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
    if (text === '') return 0;
    if (!/^[0-7]+$/.test(text)) throw new ArchiveError(`tar: a header with an invalid size field ${JSON.stringify(text)}`);
    const value = Number.parseInt(text, 8);
    if (!Number.isSafeInteger(value)) throw new ArchiveError('tar: an entry size beyond 2^53 bytes');
    return value;
  }
}

/** The `size` record of PAX header data (`<len> size=<n>\n`), if any. */
function paxSize(data: Buffer): number | undefined {
  const match = /(?:^|\n)\d+ size=(\d+)\n/.exec(data.toString('utf8'));
  if (match?.[1] === undefined) return undefined;
  const value = Number(match[1]);
  if (!Number.isSafeInteger(value)) throw new ArchiveError('tar: an entry size beyond 2^53 bytes');
  return value;
}
