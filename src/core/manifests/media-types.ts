/**
 * Manifest and content media types Berth understands, and how each kind of manifest is classified.
 */

export const MediaTypes = {
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerSchema2: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export type ManifestKind = 'image' | 'index' | 'schema1';

const KINDS: Readonly<Record<string, ManifestKind>> = {
  [MediaTypes.dockerSchema1]: 'schema1',
  [MediaTypes.dockerSchema1Signed]: 'schema1',
  [MediaTypes.dockerSchema2]: 'image',
  [MediaTypes.ociManifest]: 'image',
  [MediaTypes.dockerManifestList]: 'index',
  [MediaTypes.ociIndex]: 'index',
};

export function manifestKind(mediaType: string): ManifestKind | undefined {
  return KINDS[mediaType];
}

export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.keys(KINDS);

/** Layers that are never pushed to the registry (they carry `urls`), so they are not checked. */
export function isNonDistributable(mediaType: string): boolean {
  return mediaType.includes('foreign') || mediaType.includes('nondistributable');
}

/** The media type without parameters, lowercased (`application/json; charset=utf-8` → `application/json`). */
export function bareMediaType(value: string | undefined): string {
  if (value === undefined) return '';
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
}
