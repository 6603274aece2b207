/**
 * The repository list (the UI's home page): a filter box that narrows the list as you type (a
 * plain GET form without the script), one page of repositories with their tag counts and storage
 * usage, paging links, the tags the search text matches, and the garbage-collection status when
 * the registry reports one.
 */
import { formatBytes } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import type { RepositoryPage, TagHit } from '../data/catalog-view.js';
import type { PageContext } from '../layout.js';

export interface GcStatus {
  /** e.g. "idle", "running", "last run 2024-05-01: 1.2 GiB freed". */
  readonly summary: string;
  readonly lastRun?: string;
}

export function listPage(ctx: PageContext, data: RepositoryPage, tags: readonly TagHit[], gc: GcStatus | undefined): SafeHtml {
  const { urls } = ctx;
  const pages = Math.max(1, Math.ceil(data.total / data.pageSize));
  const summary = `${data.total} ${data.total === 1 ? 'repository' : 'repositories'}${data.query !== '' ? ` matching “${data.query}”` : ''}`;
  const rows = data.rows.map(
    (r) => html`<tr><td><a href="${urls.repo(r.name)}">${r.name}</a></td><td class="num">${r.tags}</td><td class="num">${formatBytes(r.usage?.totalBytes)}</td></tr>`,
  );
  const pager =
    pages > 1
      ? html`<nav class="pager" aria-label="Pages">${data.page > 1 ? html`<a href="${urls.home({ q: data.query, page: data.page - 1 })}" rel="prev">← Previous</a>` : ''}<span>Page ${data.page} of ${pages}</span>${data.page < pages ? html`<a href="${urls.home({ q: data.query, page: data.page + 1 })}" rel="next">Next →</a>` : ''}</nav>`
      : html``;
  const tagHits =
    data.query.trim() === ''
      ? html``
      : html`<h2>Tags matching “${data.query}”</h2>${
          tags.length === 0
            ? html`<p class="muted">No tags match.</p>`
            : html`<ul class="plain">${tags.map((t) => html`<li><a href="${urls.image(t.name, { tag: t.tag })}"><code>${t.name}:${t.tag}</code></a></li>`)}</ul>`
        }`;
  return html`<h1>Repositories</h1>
${gc !== undefined ? html`<p class="card">Garbage collection: ${gc.summary}${gc.lastRun !== undefined ? html` <span class="muted">(last run ${gc.lastRun})</span>` : ''}</p>` : ''}
<form class="search" role="search" method="get" action="${urls.home()}">
<label for="q">Filter repositories, or find tags (<code>name:tag</code>)</label>
<input type="search" id="q" name="q" value="${data.query}" data-filter autocomplete="off" placeholder="Type to filter (press /)">
<button type="submit">Search</button>
</form>
<div id="results" data-summary="${summary}">
<p class="muted">${summary}</p>
${data.rows.length === 0 ? html`<p>No repositories${data.query !== '' ? ' match' : ' yet'}.</p>` : html`<table><caption class="sr">Repositories</caption><thead><tr><th scope="col">Repository</th><th scope="col" class="num">Tags</th><th scope="col" class="num">Storage</th></tr></thead><tbody>${rows}</tbody></table>`}
${pager}
${tagHits}
</div>`;
}
