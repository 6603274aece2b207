/**
 * The route template of a request path (after `http.prefix`), for metric labels: a small fixed
 * set, never a repository name, tag, digest or upload id. String scans only, no allocation.
 */

export const ROUTES = [
  'base',
  'catalog',
  'tags',
  'manifest',
  'blob',
  'blob_upload',
  'referrers',
  'v1',
  'smartos',
  'imgapi',
  'health',
  'metrics',
  'other',
] as const;

export type Route = (typeof ROUTES)[number];

/** The second-to-last segment of a path equals `segment` (`/…/<segment>/<last>`). */
function penultimateIs(path: string, segment: string): boolean {
  const last = path.lastIndexOf('/');
  if (last <= 0 || last === path.length - 1) return false;
  const start = last - segment.length - 1;
  return start >= 3 && path.charCodeAt(start) === 47 && path.startsWith(segment, start + 1);
}

function classifyV2(path: string): Route {
  if (path.length <= 4) return 'base'; // "/v2" or "/v2/"
  if (path === '/v2/_catalog') return 'catalog';
  if (path.endsWith('/tags/list')) return 'tags';
  if (path.endsWith('/blobs/uploads/') || path.endsWith('/blobs/uploads') || (penultimateIs(path, 'uploads') && path.includes('/blobs/uploads/'))) {
    return 'blob_upload';
  }
  if (penultimateIs(path, 'manifests')) return 'manifest';
  if (penultimateIs(path, 'blobs')) return 'blob';
  if (penultimateIs(path, 'referrers')) return 'referrers';
  return 'other';
}

/** `path` is the request path without query and without the configured prefix. */
export function classifyRoute(path: string, metricsPath = '/metrics'): Route {
  if (path.startsWith('/v2')) return path.length === 3 || path.charCodeAt(3) === 47 ? classifyV2(path) : 'other';
  if (path.startsWith('/v1/') || path === '/v1' || path === '/_ping') return 'v1';
  if (path.startsWith('/smartos/')) return 'smartos';
  if (path.startsWith('/imgapi/') || path === '/imgapi') return 'imgapi';
  if (path === '/healthz' || path === '/readyz' || path === '/livez') return 'health';
  if (path === metricsPath) return 'metrics';
  return 'other';
}
