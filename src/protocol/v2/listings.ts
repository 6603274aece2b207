/**
 * Listing endpoints: tags (sorted, `n`/`last` pagination with a Link header), the catalog
 * (filtered by what the caller may pull) and the OCI referrers API (always 200; `artifactType`
 * filter with OCI-Filters-Applied).
 */
import { parseDigest } from '../../core/digest.js';
import { MediaTypes } from '../../core/manifests/media-types.js';
import { RegistryError } from '../../errors/registry-error.js';
import type { RepoContext, V2Context } from './context.js';
import { parseN, sendJson } from './headers.js';

interface Page {
  readonly items: string[];
  readonly next?: string;
}

function paginate(all: readonly string[], n: number | undefined, last: string | null, max: number): Page {
  const after = last === null || last === '' ? all : all.filter((t) => t > last);
  if (n === undefined) return { items: [...after] };
  const size = Math.min(n, max);
  const items = after.slice(0, size);
  const lastItem = items[items.length - 1];
  return after.length > size && size > 0 && lastItem !== undefined ? { items, next: lastItem } : { items };
}

export async function listTags(ctx: RepoContext): Promise<void> {
  const { deps, name, query, req, res } = ctx;
  const n = parseN(query.get('n'));
  if (!(await deps.registry.repositoryExists(name))) throw new RegistryError('NAME_UNKNOWN', { detail: { name } });
  const page = paginate(await deps.registry.tags.list(name), n, query.get('last'), deps.config.berth.maxTagsPage);
  if (page.next !== undefined && n !== undefined) {
    res.setHeader('Link', `<${ctx.urls.path(`/v2/${name}/tags/list`, { n: String(Math.min(n, deps.config.berth.maxTagsPage)), last: page.next })}>; rel="next"`);
  }
  sendJson(req, res, 200, { name, tags: page.items });
}

export async function catalog(ctx: V2Context): Promise<void> {
  const { deps, query, req, res } = ctx;
  const n = parseN(query.get('n'));
  const max = deps.config.catalog.maxEntries;
  if (n !== undefined && n > max) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', { message: `n exceeds the maximum of ${max}`, detail: { n, max } });
  }
  const all = await deps.registry.catalog.all();
  const visible: string[] = [];
  for (const repo of all) if (await deps.access.canPull(ctx.principal, repo)) visible.push(repo);
  const page = paginate(visible, n ?? 100, query.get('last'), max);
  if (page.next !== undefined) {
    res.setHeader('Link', `<${ctx.urls.path('/v2/_catalog', { n: String(n ?? 100), last: page.next })}>; rel="next"`);
  }
  sendJson(req, res, 200, { repositories: page.items });
}

export async function listReferrers(ctx: RepoContext, digestText: string): Promise<void> {
  const { deps, name, query, req, res } = ctx;
  const subject = parseDigest(digestText);
  const artifactType = query.get('artifactType');
  let manifests = await deps.registry.referrers.list(name, subject);
  if (artifactType !== null && artifactType !== '') {
    manifests = manifests.filter((m) => m.artifactType === artifactType);
    res.setHeader('OCI-Filters-Applied', 'artifactType');
  }
  sendJson(req, res, 200, { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }, MediaTypes.ociIndex);
}
