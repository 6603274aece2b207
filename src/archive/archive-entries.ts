/**
 * Reads the files of an archive — a tar stream (plain, gzip or zstd) or a directory (an OCI image
 * layout or an unpacked `docker save`) — into an {@link ArchiveContents}: small metadata files
 * (manifest.json, index.json, oci-layout, repositories, legacy configs and `json`/`VERSION`) in
 * memory, bounded; every other file streamed into the staging area with its sha256. Names are
 * checked as they come: absolute paths, `..`, NUL and duplicates are refused, as are devices and
 * FIFOs. Symbolic and hard links become aliases of another entry of the archive (docker save
 * links identical layers that way); a link leading out of the archive is refused. Nothing is ever
 * written to the local filesystem under an archive's name.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { ArchiveError } from './archive-error.js';
import type { Progress } from './progress.js';
import type { StagedBlob, Stager } from './staging.js';
import { TarGuard } from './tar-guard.js';

export type ArchiveFile = { readonly kind: 'memory'; readonly bytes: Buffer } | { readonly kind: 'staged'; readonly blob: StagedBlob };

export interface ArchiveContents {
  readonly files: ReadonlyMap<string, ArchiveFile>;
  /** Link name → the name it points at (normalised, inside the archive). */
  readonly links: ReadonlyMap<string, string>;
}

export interface ReadLimits {
  /** Largest metadata file kept in memory (berth.limits.manifestbytes). */
  readonly maxMetadataBytes: number;
  /** Largest PAX / GNU long-name header. */
  readonly maxHeaderBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_LIMITS: ReadLimits = { maxMetadataBytes: 4 * 1024 * 1024, maxHeaderBytes: 1024 * 1024, maxEntries: 100_000 };

const METADATA = /^(manifest\.json|index\.json|oci-layout|repositories|[0-9a-f]{64}\.json|[^/]+\/(json|VERSION))$/;

/** `./a//b` → `a/b`; refuses absolute names, `..`, NUL and empty names. */
export function normaliseName(raw: string): string {
  if (raw.includes('\0')) throw new ArchiveError(`refusing the entry ${JSON.stringify(raw.slice(0, 200))}: NUL in the name`);
  if (raw.startsWith('/')) throw new ArchiveError(`refusing the entry ${JSON.stringify(raw.slice(0, 200))}: absolute path`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new ArchiveError(`refusing the entry ${JSON.stringify(raw.slice(0, 200))}: path traversal (..)`);
  return parts.join('/');
}

/** The target of a link named `name`, resolved inside the archive, or a refusal. */
function linkTarget(name: string, target: string, symbolic: boolean): string {
  if (target.startsWith('/')) throw new ArchiveError(`refusing the link ${JSON.stringify(name)} → ${JSON.stringify(target.slice(0, 200))}: absolute target`);
  const joined = symbolic ? posix.normalize(posix.join(posix.dirname(name), target)) : posix.normalize(target);
  if (joined === '..' || joined.startsWith('../') || joined.startsWith('/')) {
    throw new ArchiveError(`refusing the link ${JSON.stringify(name)} → ${JSON.stringify(target.slice(0, 200))}: it leads out of the archive`);
  }
  return normaliseName(joined);
}

class Collector {
  readonly files = new Map<string, ArchiveFile>();
  readonly links = new Map<string, string>();
  private count = 0;

  constructor(
    private readonly stager: Stager,
    private readonly limits: ReadLimits,
    private readonly progress: Progress,
    private readonly countOverall: boolean,
  ) {}

  private claim(name: string): void {
    if (++this.count > this.limits.maxEntries) throw new ArchiveError(`more than ${this.limits.maxEntries} entries`);
    if (this.files.has(name) || this.links.has(name)) throw new ArchiveError(`the entry ${JSON.stringify(name)} appears twice`);
  }

  async file(rawName: string, size: number, data: AsyncIterable<Buffer>): Promise<void> {
    const name = normaliseName(rawName);
    this.claim(name);
    if (METADATA.test(name)) {
      if (size > this.limits.maxMetadataBytes) {
        throw new ArchiveError(`${name} is ${size} bytes, more than the ${this.limits.maxMetadataBytes} accepted (berth.limits.manifestbytes)`);
      }
      const chunks: Buffer[] = [];
      let got = 0;
      for await (const chunk of data) {
        got += chunk.length;
        if (got > size) throw new ArchiveError(`${name} is longer than its header says`);
        chunks.push(chunk);
      }
      if (got !== size) throw new ArchiveError(`${name} has ${got} bytes where its header says ${size} (truncated archive?)`);
      this.files.set(name, { kind: 'memory', bytes: Buffer.concat(chunks) });
      return;
    }
    this.progress.startItem(name, size);
    const blob = await this.stager.stage(data, size, (n) => this.progress.advance(n, this.countOverall));
    this.progress.endItem();
    this.files.set(name, { kind: 'staged', blob });
  }

  link(rawName: string, target: string, symbolic: boolean): void {
    const name = normaliseName(rawName);
    this.claim(name);
    this.links.set(name, linkTarget(name, target, symbolic));
  }
}

/** Reads a (decompressed) tar stream. `onRawBytes` is not called here: the caller counts input. */
export async function readTarArchive(
  source: Readable,
  stager: Stager,
  limits: ReadLimits,
  progress: Progress,
): Promise<ArchiveContents> {
  const collector = new Collector(stager, limits, progress, false);
  const guard = new TarGuard(limits.maxHeaderBytes);
  const parser = extract();
  const consume = (async () => {
    for await (const entry of parser) {
      const header: Header = entry.header;
      const data = entry as AsyncIterable<Buffer>;
      const type = header.type;
      switch (type) {
        case 'file':
        case 'contiguous-file':
          await collector.file(header.name, header.size, data);
          break;
        case 'directory':
          normaliseName(header.name);
          for await (const _ of data) void _;
          break;
        case 'symlink':
        case 'link':
          collector.link(header.name, header.linkname, type === 'symlink');
          for await (const _ of data) void _;
          break;
        default:
          throw new ArchiveError(`refusing the entry ${JSON.stringify(header.name.slice(0, 200))}: type ${String(type)} (only files, directories and links are accepted)`);
      }
    }
  })();
  const feed = (async () => {
    source.on('error', (error) => guard.destroy(error));
    source.pipe(guard);
    for await (const chunk of guard) {
      if (!parser.write(chunk as Buffer)) await drained(parser);
      if (parser.destroyed) throw new ArchiveError('the archive could not be read to its end');
    }
    parser.end(null);
  })();
  try {
    await Promise.all([feed.catch((error: unknown) => {
      parser.destroy(error as Error);
      throw error;
    }), consume.catch((error: unknown) => {
      guard.destroy();
      parser.destroy();
      throw error;
    })]);
  } catch (error) {
    source.destroy();
    const settled = await Promise.allSettled([feed, consume]);
    // The first failure may be a consequence (an entry stream destroyed); report the cause.
    const errors = [error, ...settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))].map(tarError);
    throw errors.find((e) => e instanceof ArchiveError && !/could not be read to its end|destroyed/.test(e.message)) ?? errors.find((e) => e instanceof ArchiveError) ?? errors[0];
  }
  if (!guard.ended) throw new ArchiveError('the archive is truncated: it ends without the tar end-of-archive block');
  return { files: collector.files, links: collector.links };
}

function tarError(error: unknown): Error {
  if (error instanceof ArchiveError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/Unexpected end of data|premature close|Stream was destroyed/i.test(message)) return new ArchiveError('the archive is truncated (it ends in the middle of an entry)');
  if (/Invalid tar header|checksum/i.test(message)) return new ArchiveError(`the archive is corrupt: ${message}`);
  const code = error instanceof Error && 'code' in error ? String((error as NodeJS.ErrnoException).code) : '';
  if (code.startsWith('Z_')) return new ArchiveError(`the compressed archive is corrupt or truncated: ${message}`);
  return error instanceof Error ? error : new Error(message);
}

/** Reads a directory: an OCI image layout or an unpacked docker save. */
export async function readDirectoryArchive(root: string, stager: Stager, limits: ReadLimits, progress: Progress): Promise<ArchiveContents> {
  const collector = new Collector(stager, limits, progress, true);
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(root, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const name = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const full = join(root, name);
      if (entry.isDirectory()) await walk(name);
      else if (entry.isSymbolicLink()) collector.link(name, await readlink(full), true);
      else if (entry.isFile()) {
        const info = await lstat(full);
        await collector.file(name, info.size, createReadStream(full, { highWaterMark: 1 << 20 }));
      } else throw new ArchiveError(`refusing ${JSON.stringify(name)}: not a regular file, directory or link`);
    }
  };
  await walk('');
  return { files: collector.files, links: collector.links };
}

/** The file an archive name stands for, following links (at most 16). */
export function resolveFile(contents: ArchiveContents, name: string): { readonly name: string; readonly file: ArchiveFile } | undefined {
  let current = name;
  for (let hops = 0; hops <= 16; hops++) {
    const file = contents.files.get(current);
    if (file !== undefined) return { name: current, file };
    const next = contents.links.get(current);
    if (next === undefined) return undefined;
    current = next;
  }
  throw new ArchiveError(`${JSON.stringify(name)}: too many levels of links`);
}

/** Resolves when a streamx writable drains, or is closed or fails (then the loop stops). */
function drained(stream: { once(event: string, listener: () => void): unknown; destroyed: boolean }): Promise<void> {
  if (stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('drain', resolve);
    stream.once('close', resolve);
    stream.once('error', resolve);
  });
}
