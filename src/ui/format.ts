/**
 * Display formatting for the UI: byte sizes, dates, short digests, platforms. Pure functions.
 */
import type { Platform } from '../core/manifests/parse.js';

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit] ?? 'PiB'}`;
}

/** `2024-05-01 12:34 UTC`, or the input when it is not a date. */
export function formatDate(value: string | undefined): string {
  if (value === undefined || value === '') return '—';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value.slice(0, 40);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return colon === -1 ? digest.slice(0, 12) : `${digest.slice(0, colon + 1)}${digest.slice(colon + 1, colon + 13)}`;
}

export function formatPlatform(p: Platform | undefined): string {
  if (p === undefined) return 'unknown';
  return `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ''}`;
}

/** A short label for a manifest media type. */
export function mediaTypeLabel(mediaType: string): string {
  const labels: Readonly<Record<string, string>> = {
    'application/vnd.docker.distribution.manifest.v2+json': 'Docker v2',
    'application/vnd.docker.distribution.manifest.list.v2+json': 'Docker list',
    'application/vnd.docker.distribution.manifest.v1+json': 'Docker v1 (schema 1)',
    'application/vnd.docker.distribution.manifest.v1+prettyjws': 'Docker v1 (schema 1)',
    'application/vnd.oci.image.manifest.v1+json': 'OCI manifest',
    'application/vnd.oci.image.index.v1+json': 'OCI index',
  };
  return labels[mediaType] ?? mediaType;
}
