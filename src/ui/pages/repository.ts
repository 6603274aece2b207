/**
 * The repository page: storage usage, pull commands for one tag, and the tags — digest,
 * compressed size, created date, platforms, media type, the referrers (signatures, SBOMs,
 * attestations) listed under the image they refer to, and a delete link where the user may
 * delete.
 */
import type { ReferrerDescriptor } from '../../core/referrers.js';
import type { RepositoryUsage } from '../../core/usage.js';
import { formatBytes, formatDate, mediaTypeLabel, shortDigest } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import type { ManifestSummary } from '../data/manifest-view.js';
import type { PageContext } from '../layout.js';
import { pullCommands, type PullTarget } from './pull-commands.js';

export interface TagRow {
  readonly tag: string;
  readonly summary?: ManifestSummary;
  readonly referrers: readonly ReferrerDescriptor[];
  /** Pushed with the v1 API (an old docker client). */
  readonly v1: boolean;
}

export interface RepositoryData {
  readonly name: string;
  readonly usage?: RepositoryUsage;
  readonly totalTags: number;
  readonly page: number;
  readonly pageSize: number;
  readonly rows: readonly TagRow[];
  readonly pull?: PullTarget;
  readonly canDelete: boolean;
  readonly flash?: string;
}

export function referrerList(ctx: PageContext, name: string, referrers: readonly ReferrerDescriptor[]): SafeHtml {
  if (referrers.length === 0) return html``;
  return html`<ul class="referrers" aria-label="Referrers">${referrers.map(
    (r) =>
      html`<li>↳ <span class="badge">${referrerKind(r)}</span><a href="${ctx.urls.image(name, { digest: r.digest })}"><code title="${r.digest}">${shortDigest(r.digest)}</code></a> <span class="muted">${r.artifactType ?? r.mediaType} · ${formatBytes(r.size)}</span></li>`,
  )}</ul>`;
}

export function referrerKind(r: ReferrerDescriptor): string {
  const t = (r.artifactType ?? '').toLowerCase();
  if (t.includes('sig') || t.includes('cosign') || t.includes('notation')) return 'signature';
  if (t.includes('spdx') || t.includes('cyclonedx') || t.includes('sbom') || t.includes('syft')) return 'SBOM';
  if (t.includes('in-toto') || t.includes('attest') || t.includes('provenance')) return 'attestation';
  return 'artifact';
}

export function repositoryPage(ctx: PageContext, data: RepositoryData): SafeHtml {
  const { urls } = ctx;
  const pages = Math.max(1, Math.ceil(data.totalTags / data.pageSize));
  const rows = data.rows.map((r) => {
    const s = r.summary;
    return html`<tr>
<td><a href="${urls.image(data.name, { tag: r.tag })}"><strong>${r.tag}</strong></a>${r.v1 ? html` <span class="badge">v1 push</span>` : ''}${referrerList(ctx, data.name, r.referrers)}</td>
<td>${s !== undefined ? html`<code title="${s.digest}">${shortDigest(s.digest)}</code>` : html`<span class="muted">missing</span>`}</td>
<td class="num">${formatBytes(s?.size)}</td>
<td>${formatDate(s?.created)}</td>
<td>${(s?.platforms ?? []).map((p) => html`<span class="badge">${p}</span>`)}</td>
<td>${s !== undefined ? mediaTypeLabel(s.mediaType) : '—'}</td>
${data.canDelete ? html`<td><a href="${urls.deleteConfirm(data.name, { tag: r.tag })}" aria-label="Delete tag ${r.tag}">Delete</a></td>` : ''}
</tr>`;
  });
  const pager =
    pages > 1
      ? html`<nav class="pager" aria-label="Tag pages">${data.page > 1 ? html`<a href="${urls.repo(data.name, { page: data.page - 1 })}" rel="prev">← Previous</a>` : ''}<span>Page ${data.page} of ${pages}</span>${data.page < pages ? html`<a href="${urls.repo(data.name, { page: data.page + 1 })}" rel="next">Next →</a>` : ''}</nav>`
      : html``;
  const u = data.usage;
  return html`<nav aria-label="Breadcrumb"><a href="${urls.home()}">Repositories</a> /</nav>
<h1>${data.name}</h1>
${data.flash !== undefined ? html`<p class="flash" role="status">${data.flash}</p>` : ''}
<p>${data.totalTags} ${data.totalTags === 1 ? 'tag' : 'tags'}${u !== undefined ? html` · storage ${formatBytes(u.totalBytes)} <span class="muted">(${u.blobs} blobs ${formatBytes(u.blobBytes)}, ${u.manifests} manifests ${formatBytes(u.manifestBytes)})</span>` : ''}</p>
${data.pull !== undefined ? html`<h2>Pull <code>${data.pull.name}${data.pull.suffix}</code></h2>${pullCommands(data.pull, 'pull')}` : ''}
<h2>Tags</h2>
${data.rows.length === 0 ? html`<p>No tags.</p>` : html`<table><caption class="sr">Tags of ${data.name}</caption><thead><tr><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col" class="num">Size</th><th scope="col">Created</th><th scope="col">Platforms</th><th scope="col">Media type</th>${data.canDelete ? html`<th scope="col"><span class="sr">Actions</span></th>` : ''}</tr></thead><tbody>${rows}</tbody></table>`}
${pager}`;
}
