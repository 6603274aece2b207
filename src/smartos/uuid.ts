/**
 * SmartOS image UUIDs for Docker layers, exactly as imgadm derives them (imgadm.md §4):
 *
 * - v2 scheme (imgadm ≥ 3.8, imgmanifest 3.x `imgUuidFromDockerDigests`): SHA-256 of the layer
 *   digests from the base up to the layer, joined by single spaces; the first 32 hex characters
 *   as 8-4-4-4-12. No RFC 4122 version/variant bits.
 * - v1 scheme (imgadm 3.5–3.7.4, imgmanifest 2.x `imgUuidFromDockerInfo`): SHA-1 of the 16 bytes
 *   of the DNS namespace UUID followed by `"<indexName>:<v1 id>"`, formatted the same way (again
 *   without version/variant bits).
 * - the obsolete scheme (imgadm 3.0–3.4): the v1 id's first 32 hex characters.
 *
 * Pure functions; node's crypto only.
 */
import { createHash } from 'node:crypto';

/** RFC 4122 namespace UUID for DNS names; imgmanifest 2.x uses it for every docker UUID. */
const DNS_NAMESPACE = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex');

export class DockerUuidError extends Error {
  override readonly name = 'DockerUuidError';
}

/** `hex[0:8]-hex[8:12]-hex[12:16]-hex[16:20]-hex[20:32]` (imgmanifest's `uuidFromString`). */
export function uuidFromHex(hex: string): string {
  if (hex.length < 32) throw new DockerUuidError(`need at least 32 hex characters, got ${hex.length}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * imgadm ≥ 3.8: the UUID of the image whose layer chain (base first) is `digests`. Throws, as
 * imgmanifest does, unless every digest is `sha256:` followed by 64 characters.
 */
export function imgUuidFromDockerDigests(digests: readonly string[]): string {
  const bad = digests.filter((d) => {
    const parts = d.split(':');
    return parts.length !== 2 || parts[0] !== 'sha256' || parts[1]?.length !== 64;
  });
  if (bad.length > 0) throw new DockerUuidError(`docker digests should be of the form "sha256:xxx", got: ${bad.join(',')}`);
  return uuidFromHex(createHash('sha256').update(digests.join(' ')).digest('hex'));
}

/** UUIDs of every prefix of the chain: element i is the UUID of layer i (base first). */
export function uuidChain(digests: readonly string[]): string[] {
  return digests.map((_, i) => imgUuidFromDockerDigests(digests.slice(0, i + 1)));
}

/**
 * imgadm 3.5–3.7.4: the UUID of the v1 image `id` (64 hex) pulled from the registry `indexName`
 * (`host[:port]`, or `docker.io`).
 */
export function imgUuidFromDockerV1Id(indexName: string, id: string): string {
  if (id.length !== 64) throw new DockerUuidError(`docker id "${id}" is too short, full 64-char id was expected`);
  const hash = createHash('sha1');
  hash.update(DNS_NAMESPACE);
  hash.update(`${indexName}:${id}`);
  return uuidFromHex(hash.digest('hex'));
}

/** imgadm 3.0–3.4 (`obsoleteImgUuidFromDockerId`). */
export function obsoleteImgUuidFromDockerId(id: string): string {
  if (id.length !== 64) throw new DockerUuidError(`docker id "${id}" is not 64 characters`);
  return uuidFromHex(id);
}
