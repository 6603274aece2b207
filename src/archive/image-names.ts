/**
 * Image references as archives and users write them — `alpine:3`, `team/app:1.0`,
 * `registry.example.com:5000/team/app:1.0`, `docker.io/library/alpine:latest`,
 * `team/app@sha256:…` — turned into a Berth repository name and a tag (or digest). A leading
 * registry host (a first component with `.` or `:`, or `localhost`) is dropped, and so is
 * `library/` after docker.io, so `docker.io/library/alpine:latest` and `alpine:latest` are both
 * `alpine:latest`. A reference without a tag means `latest`.
 */
import { tryParseDigest, type ParsedDigest } from '../core/digest.js';
import { isValidName, isValidTag } from '../core/reference.js';
import { ArchiveError } from './archive-error.js';

export interface ImageName {
  readonly name: string;
  readonly tag: string;
}

export interface ImageRef {
  readonly name: string;
  readonly tag?: string;
  readonly digest?: ParsedDigest;
}

export function parseImageRef(text: string): ImageRef {
  let rest = text.trim();
  let digest: ParsedDigest | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = tryParseDigest(rest.slice(at + 1));
    if (digest === undefined) throw new ArchiveError(`${JSON.stringify(text)}: invalid digest`);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  let host: string | undefined;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    host = first;
    parts.shift();
  }
  if ((host === 'docker.io' || host === 'index.docker.io') && parts[0] === 'library' && parts.length > 1) parts.shift();
  const name = parts.join('/');
  if (!isValidName(name)) throw new ArchiveError(`${JSON.stringify(text)}: invalid repository name ${JSON.stringify(name)}`);
  if (tag !== undefined && !isValidTag(tag)) throw new ArchiveError(`${JSON.stringify(text)}: invalid tag ${JSON.stringify(tag)}`);
  if (digest === undefined && tag === undefined) tag = 'latest';
  return { name, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** A NAME:TAG to store under (a digest is not a tag). */
export function parseImageName(text: string): ImageName {
  const ref = parseImageRef(text);
  if (ref.digest !== undefined || ref.tag === undefined) throw new ArchiveError(`${JSON.stringify(text)}: expected NAME:TAG`);
  return { name: ref.name, tag: ref.tag };
}

export function formatName(n: ImageName): string {
  return `${n.name}:${n.tag}`;
}
