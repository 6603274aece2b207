/**
 * Builds, entirely in Node, the two offline inputs a Docker engine turns into images without any
 * registry: a plain rootfs tar for `docker import`, and a docker-archive (the `docker save` format:
 * `manifest.json`, an image config `<hex>.json` and one uncompressed `layer.tar` per layer) for
 * `docker load`. The config's `rootfs.diff_ids` are the sha256 of the layer tars, so the image ID
 * Docker assigns on load (sha256 of the config bytes) is known in advance.
 */
import { createHash } from 'node:crypto';
import { createTar, type TarEntry } from './tar.js';

export type { TarEntry } from './tar.js';

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function hexOf(digest: string): string {
  return digest.slice('sha256:'.length);
}

/** A file for a rootfs or layer; parent directories are added automatically. */
export interface FileSpec {
  /** Relative path without a leading "/" (e.g. "etc/motd"). */
  readonly path: string;
  readonly content: string | Uint8Array;
  readonly mode?: number;
}

/** Tar entries for the files, each preceded by its not-yet-listed parent directories. */
export function rootfsEntries(files: readonly FileSpec[], mtime = 0): TarEntry[] {
  const entries: TarEntry[] = [];
  const seenDirs = new Set<string>();
  for (const file of files) {
    const parts = file.path.split('/');
    for (let i = 1; i < parts.length; i += 1) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (!seenDirs.has(dir)) {
        seenDirs.add(dir);
        entries.push({ name: dir, mtime });
      }
    }
    const data = typeof file.content === 'string' ? Buffer.from(file.content) : file.content;
    entries.push({ name: file.path, data, mtime, ...(file.mode === undefined ? {} : { mode: file.mode }) });
  }
  return entries;
}

/** An uncompressed tar of the files: a rootfs for `docker import` or one image layer. */
export function rootfsTar(files: readonly FileSpec[], mtime = 0): Buffer {
  return createTar(rootfsEntries(files, mtime));
}

/** The name of the whiteout entry that deletes `path` from the layers below (OCI/AUFS style). */
export function whiteoutPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? `.wh.${path}` : `${path.slice(0, slash + 1)}.wh.${path.slice(slash + 1)}`;
}

export interface DockerArchiveOptions {
  /** Names `docker load` tags the image with, e.g. "127.0.0.1:5000/e2e/loaded:1". */
  readonly repoTags: readonly string[];
  /** One uncompressed tar per layer, lowest first. */
  readonly layers: readonly Buffer[];
  readonly architecture?: string;
  readonly os?: string;
  /** RFC 3339 creation time written into the config and history (fixed by default). */
  readonly created?: string;
  /** The runtime part of the config (`Cmd`, `Env`, `Labels`, …). */
  readonly containerConfig?: Readonly<Record<string, unknown>>;
}

export interface DockerArchive {
  /** The archive bytes to hand to `docker load -i`. */
  readonly tar: Buffer;
  /** The image ID Docker must report: sha256 of the config bytes. */
  readonly imageId: string;
  readonly config: Buffer;
  /** sha256 of each layer tar, as listed in the config's rootfs. */
  readonly diffIds: readonly string[];
}

/** A docker-archive (as `docker save` writes it, without the legacy `repositories` file). */
export function buildDockerArchive(options: DockerArchiveOptions): DockerArchive {
  if (options.layers.length === 0) throw new Error('docker-archive: at least one layer is needed');
  const created = options.created ?? '2024-01-01T00:00:00Z';
  const diffIds = options.layers.map((layer) => sha256(layer));
  const config = Buffer.from(
    JSON.stringify({
      architecture: options.architecture ?? 'amd64',
      os: options.os ?? 'linux',
      created,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...options.containerConfig },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: options.layers.map((_, i) => ({ created, created_by: `berth test layer ${i + 1}` })),
    }),
  );
  const imageId = sha256(config);
  const configName = `${hexOf(imageId)}.json`;
  // Directory names only need to be unique inside the archive; docker save uses the layer's v1 ID.
  const layerNames = diffIds.map((diffId, i) => `${String(i).padStart(2, '0')}${hexOf(diffId).slice(0, 40)}/layer.tar`);
  const manifest = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: options.repoTags, Layers: layerNames }]));
  const entries: TarEntry[] = [];
  options.layers.forEach((layer, i) => {
    const name = layerNames[i] ?? '';
    entries.push({ name: name.slice(0, name.indexOf('/') + 1) });
    entries.push({ name, data: layer });
  });
  entries.push({ name: configName, data: config });
  entries.push({ name: 'manifest.json', data: manifest });
  return { tar: createTar(entries), imageId, config, diffIds };
}

/** One entry read back from a tar (e.g. a `docker export` of a container's filesystem). */
export interface TarReadEntry {
  /** Path without a leading "./" or "/"; directories without the trailing "/". */
  readonly name: string;
  /** The ustar type flag: "0" file, "5" directory, "2" symlink, … */
  readonly type: string;
  readonly mode: number;
  readonly data: Buffer;
}

function readField(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString('utf8');
}

function readOctal(block: Buffer, offset: number, length: number): number {
  const text = readField(block, offset, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** Reads a ustar/PAX/GNU tar: PAX `path` records and GNU long names apply to the next entry. */
export function readTar(tar: Buffer): Map<string, TarReadEntry> {
  const entries = new Map<string, TarReadEntry>();
  let offset = 0;
  let nextName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const size = readOctal(header, 124, 12);
    const type = readField(header, 156, 1) || '0';
    const data = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x' || type === 'g') {
      const path = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (type === 'x' && path?.[1] !== undefined) nextName = path[1];
      continue;
    }
    if (type === 'L') {
      nextName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    const prefix = readField(header, 345, 155);
    const ustarName = readField(header, 0, 100);
    const name = (nextName ?? (prefix === '' ? ustarName : `${prefix}/${ustarName}`)).replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
    nextName = undefined;
    if (name !== '' && name !== '.') {
      entries.set(name, { name, type, mode: readOctal(header, 100, 8) & 0o7777, data: Buffer.from(data) });
    }
  }
  return entries;
}
