/**
 * The v1 storage layout: all legacy-API state, in the storage driver next to the v2 tree, so any
 * Berth instance on the same storage serves it. Layer bytes are NOT here: a v1 layer is a blob of
 * the one global content store (`/docker/registry/v2/blobs/…`, see ../paths.ts), so the same
 * bytes pushed over v1 and v2 are one blob. Tags are not here either: a v1 tag IS the v2 tag
 * (pointing at the synthesized manifest); v1 keeps only what v2 cannot say.
 *
 *   /docker/registry/v1/
 *     images/<id>/json                 image JSON exactly as pushed (checksums are over these bytes)
 *     images/<id>/ancestry             JSON list [id, parent, …, base], computed at PUT json
 *     images/<id>/_inprogress          present from PUT json until a verified PUT checksum; while it
 *                                      exists the image is invisible to pulls
 *     images/<id>/layer                JSON {digest, size, diffId, mediaType}: the image's layer
 *                                      blob (written after the bytes are in the content store)
 *     images/<id>/_checksum            JSON {payload: ["sha256:…"], tarsum?}: sha256(json + "\n" +
 *                                      layer) computed while the layer streamed; tarsum as sent
 *     images/<id>/repositories/<key>   JSON {repository}: a repository a tag of this image lives in
 *                                      (for access checks); key = sha256(name)[:32]
 *     images/<id>/bridge/<key>         JSON {repository, manifest, position}: <id> is the v1 view of
 *                                      image number <position> (base = 0) of a v2 manifest;
 *                                      key = sha256(repository + "@" + manifest)[:32]
 *     manifests/<alg>/<hex>            the v1 top image ID a manifest was synthesized from (v1 push)
 *     repositories/<name>/_index_images   the index role's image list [{id, checksum?}]
 *     repositories/<name>/_tags/<tag>     tag metadata {last_update, docker_version, …} (v1 push)
 *     _uploads/<uuid>/data             a v1 layer streaming in; moved into the content store once
 *                                      its digest is known, deleted on any failure
 *
 * `<name>` is the v2 repository name (v1's `library/x` is v2's `x`, see names.ts); ids, names and
 * tags are validated before they reach these functions, and the checked driver wrapper validates
 * the final path again.
 */
import { createHash } from 'node:crypto';
import type { ParsedDigest } from '../digest.js';

export const V1_ROOT = '/docker/registry/v1';

function key(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 32);
}

export const v1Paths = {
  imageDir(id: string): string {
    return `${V1_ROOT}/images/${id}`;
  },
  imageJson(id: string): string {
    return `${V1_ROOT}/images/${id}/json`;
  },
  ancestry(id: string): string {
    return `${V1_ROOT}/images/${id}/ancestry`;
  },
  inProgress(id: string): string {
    return `${V1_ROOT}/images/${id}/_inprogress`;
  },
  layer(id: string): string {
    return `${V1_ROOT}/images/${id}/layer`;
  },
  checksum(id: string): string {
    return `${V1_ROOT}/images/${id}/_checksum`;
  },
  ownersDir(id: string): string {
    return `${V1_ROOT}/images/${id}/repositories`;
  },
  owner(id: string, repository: string): string {
    return `${V1_ROOT}/images/${id}/repositories/${key(repository)}`;
  },
  bridgeDir(id: string): string {
    return `${V1_ROOT}/images/${id}/bridge`;
  },
  bridge(id: string, repository: string, manifest: string): string {
    return `${V1_ROOT}/images/${id}/bridge/${key(`${repository}@${manifest}`)}`;
  },
  manifestOrigin(d: ParsedDigest): string {
    return `${V1_ROOT}/manifests/${d.algorithm}/${d.hex}`;
  },
  repo(name: string): string {
    return `${V1_ROOT}/repositories/${name}`;
  },
  indexImages(name: string): string {
    return `${V1_ROOT}/repositories/${name}/_index_images`;
  },
  tagsDir(name: string): string {
    return `${V1_ROOT}/repositories/${name}/_tags`;
  },
  tag(name: string, tag: string): string {
    return `${V1_ROOT}/repositories/${name}/_tags/${tag}`;
  },
  uploadDir(id: string): string {
    return `${V1_ROOT}/_uploads/${id}`;
  },
  uploadData(id: string): string {
    return `${V1_ROOT}/_uploads/${id}/data`;
  },
} as const;
