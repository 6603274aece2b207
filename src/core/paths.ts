/**
 * The storage layout: every path Berth stores, produced in one place. It is CNCF distribution's
 * layout (so a distribution filesystem/S3 tree can be served by Berth as it is, and back), plus
 * Berth's own referrers index:
 *
 *   /docker/registry/v2/
 *     blobs/<alg>/<hex[0:2]>/<hex>/data                      content-addressed bytes (layers, configs, manifests)
 *     blobs/<alg>/<hex[0:2]>/<hex>/gc-touch                  Berth: "<ISO time> <nonce>", rewritten whenever a push is
 *                                                           about to reference the blob (garbage collection, src/ops/gc)
 *     blobs/<alg>/<hex[0:2]>/<hex>/gc-hidden                 Berth: the data while a GC decides to delete it (src/ops/gc)
 *     repositories/<name>/
 *       _layers/<alg>/<hex>/link                             blob linked into the repo (content: digest)
 *       _manifests/revisions/<alg>/<hex>/link                manifest in the repo (content: digest)
 *       _manifests/tags/<tag>/current/link                   tag → manifest digest
 *       _manifests/tags/<tag>/index/<alg>/<hex>/link         digests the tag ever pointed to
 *       _manifests/tags/<tag>/proxy.json                     Berth: pull-through cache state of the tag
 *                                                           (`{digest, checkedAt}`, src/proxy)
 *       _uploads/<uuid>/data                                 upload in progress (driver writer, append)
 *       _uploads/<uuid>/startedat                            RFC 3339 start time (purging, existence)
 *       _referrers/<alg>/<hex>/<alg>-<hex>                   Berth: descriptor JSON of a manifest whose
 *                                                           subject is <alg>:<hex>
 *
 * Names, tags and digests are validated (reference.ts, digest.ts) before they reach these functions,
 * and the checked driver wrapper validates the final path again.
 */
import type { Algorithm, ParsedDigest } from './digest.js';

export const ROOT = '/docker/registry/v2';
export const REPOSITORIES = `${ROOT}/repositories`;

function split(digest: ParsedDigest): [Algorithm, string] {
  return [digest.algorithm, digest.hex];
}

export const paths = {
  blobData(d: ParsedDigest): string {
    const [alg, hex] = split(d);
    return `${ROOT}/blobs/${alg}/${hex.slice(0, 2)}/${hex}/data`;
  },
  blobTouch(d: ParsedDigest): string {
    const [alg, hex] = split(d);
    return `${ROOT}/blobs/${alg}/${hex.slice(0, 2)}/${hex}/gc-touch`;
  },
  blobHidden(d: ParsedDigest): string {
    const [alg, hex] = split(d);
    return `${ROOT}/blobs/${alg}/${hex.slice(0, 2)}/${hex}/gc-hidden`;
  },
  blobDir(d: ParsedDigest): string {
    const [alg, hex] = split(d);
    return `${ROOT}/blobs/${alg}/${hex.slice(0, 2)}/${hex}`;
  },
  blobsRoot(): string {
    return `${ROOT}/blobs`;
  },
  repo(name: string): string {
    return `${REPOSITORIES}/${name}`;
  },
  layerLink(name: string, d: ParsedDigest): string {
    return `${REPOSITORIES}/${name}/_layers/${d.algorithm}/${d.hex}/link`;
  },
  layerDir(name: string, d: ParsedDigest): string {
    return `${REPOSITORIES}/${name}/_layers/${d.algorithm}/${d.hex}`;
  },
  layersRoot(name: string): string {
    return `${REPOSITORIES}/${name}/_layers`;
  },
  manifestsRoot(name: string): string {
    return `${REPOSITORIES}/${name}/_manifests`;
  },
  revisionLink(name: string, d: ParsedDigest): string {
    return `${REPOSITORIES}/${name}/_manifests/revisions/${d.algorithm}/${d.hex}/link`;
  },
  revisionDir(name: string, d: ParsedDigest): string {
    return `${REPOSITORIES}/${name}/_manifests/revisions/${d.algorithm}/${d.hex}`;
  },
  revisionsRoot(name: string): string {
    return `${REPOSITORIES}/${name}/_manifests/revisions`;
  },
  tagsRoot(name: string): string {
    return `${REPOSITORIES}/${name}/_manifests/tags`;
  },
  tagDir(name: string, tag: string): string {
    return `${REPOSITORIES}/${name}/_manifests/tags/${tag}`;
  },
  tagCurrentLink(name: string, tag: string): string {
    return `${REPOSITORIES}/${name}/_manifests/tags/${tag}/current/link`;
  },
  tagIndexLink(name: string, tag: string, d: ParsedDigest): string {
    return `${REPOSITORIES}/${name}/_manifests/tags/${tag}/index/${d.algorithm}/${d.hex}/link`;
  },
  tagProxyState(name: string, tag: string): string {
    return `${REPOSITORIES}/${name}/_manifests/tags/${tag}/proxy.json`;
  },
  uploadsRoot(name: string): string {
    return `${REPOSITORIES}/${name}/_uploads`;
  },
  uploadDir(name: string, id: string): string {
    return `${REPOSITORIES}/${name}/_uploads/${id}`;
  },
  uploadData(name: string, id: string): string {
    return `${REPOSITORIES}/${name}/_uploads/${id}/data`;
  },
  uploadStartedAt(name: string, id: string): string {
    return `${REPOSITORIES}/${name}/_uploads/${id}/startedat`;
  },
  referrersDir(name: string, subject: ParsedDigest): string {
    return `${REPOSITORIES}/${name}/_referrers/${subject.algorithm}/${subject.hex}`;
  },
  referrerEntry(name: string, subject: ParsedDigest, d: ParsedDigest): string {
    return `${REPOSITORIES}/${name}/_referrers/${subject.algorithm}/${subject.hex}/${d.algorithm}-${d.hex}`;
  },
} as const;

/** Last segment of a path. */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
