/**
 * The image page: what a tag or digest names. For an index or manifest list, its platforms (each
 * linking to its image); for an image, the config (entrypoint, cmd, env, ports, volumes, labels),
 * the history, the layers with their sizes and the SmartOS image UUIDs imgadm would create; for
 * every manifest its referrers, pull commands, the raw manifest, and a delete button where the
 * user may delete.
 */
import type { ReferrerDescriptor } from '../../core/referrers.js';
import { formatBytes, formatDate, mediaTypeLabel, shortDigest } from '../format.js';
import { html, type SafeHtml } from '../html.js';
import type { ImageDetails } from '../data/manifest-view.js';
import type { PageContext } from '../layout.js';
import { pullCommands, type PullTarget } from './pull-commands.js';
import { referrerKind } from './repository.js';

export interface SmartOsRow {
  readonly uuid: string;
  readonly layer: string;
}

export interface ImageData {
  readonly name: string;
  readonly tag?: string;
  readonly details: ImageDetails;
  readonly referrers: readonly ReferrerDescriptor[];
  readonly tags: readonly string[];
  readonly pull: PullTarget;
  readonly smartos?: { readonly rows: readonly SmartOsRow[]; readonly notes: readonly string[] };
  readonly smartosError?: string;
  readonly canDelete: boolean;
}

function argv(list: readonly string[] | undefined): SafeHtml {
  return list === undefined || list.length === 0 ? html`<span class="muted">none</span>` : html`<code>${JSON.stringify(list)}</code>`;
}

export function imagePage(ctx: PageContext, data: ImageData): SafeHtml {
  const { urls } = ctx;
  const d = data.details;
  const s = d.summary;
  const title = data.tag !== undefined ? `${data.name}:${data.tag}` : `${data.name}@${s.digest}`;
  const c = d.config;
  const pretty = prettyJson(d.raw);
  const configSection =
    c === undefined
      ? html``
      : html`<h2 id="config">Config</h2><dl class="kv">
<dt>Entrypoint</dt><dd>${argv(c.entrypoint)}</dd>
<dt>Cmd</dt><dd>${argv(c.cmd)}</dd>
${c.workingDir !== undefined ? html`<dt>Working dir</dt><dd><code>${c.workingDir}</code></dd>` : ''}
${c.user !== undefined ? html`<dt>User</dt><dd><code>${c.user}</code></dd>` : ''}
<dt>Exposed ports</dt><dd>${c.exposedPorts.length === 0 ? html`<span class="muted">none</span>` : c.exposedPorts.map((p) => html`<span class="badge">${p}</span>`)}</dd>
${c.volumes.length > 0 ? html`<dt>Volumes</dt><dd>${c.volumes.map((v) => html`<code>${v}</code> `)}</dd>` : ''}
<dt>Environment</dt><dd>${c.env.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="plain">${c.env.map((e) => html`<li><code>${e}</code></li>`)}</ul>`}</dd>
<dt>Labels</dt><dd>${c.labels.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="plain">${c.labels.map(([k, v]) => html`<li><code>${k}=${v}</code></li>`)}</ul>`}</dd>
</dl>`;
  const children =
    d.children.length === 0
      ? html``
      : html`<h2 id="platforms">Platforms</h2><table><caption class="sr">Platforms of ${title}</caption><thead><tr><th scope="col">Platform</th><th scope="col">Digest</th><th scope="col" class="num">Manifest size</th><th scope="col">Media type</th></tr></thead><tbody>${d.children.map(
          (m) =>
            html`<tr><td><span class="badge">${m.attestation ? 'attestation' : m.platform}</span></td><td><a href="${urls.image(data.name, { digest: m.digest })}"><code title="${m.digest}">${shortDigest(m.digest)}</code></a></td><td class="num">${formatBytes(m.size)}</td><td>${mediaTypeLabel(m.mediaType)}</td></tr>`,
        )}</tbody></table>`;
  const history =
    d.history.length === 0
      ? html``
      : html`<h2 id="history">History</h2><table><caption class="sr">History</caption><thead><tr><th scope="col">Created</th><th scope="col">Command</th></tr></thead><tbody>${d.history.map(
          (h) => html`<tr><td>${formatDate(h.created)}</td><td><code>${h.createdBy ?? ''}</code>${h.emptyLayer ? html` <span class="badge">no layer</span>` : ''}${h.comment !== undefined ? html` <span class="muted">${h.comment}</span>` : ''}</td></tr>`,
        )}</tbody></table>`;
  const layers =
    d.layers.length === 0
      ? html``
      : html`<h2 id="layers">Layers</h2><table><caption class="sr">Layers</caption><thead><tr><th scope="col">#</th><th scope="col">Digest</th><th scope="col" class="num">Size</th><th scope="col">Media type</th></tr></thead><tbody>${d.layers.map(
          (l, i) => html`<tr><td>${i + 1}</td><td><code title="${l.digest}">${shortDigest(l.digest)}</code></td><td class="num">${formatBytes(l.size)}</td><td>${l.mediaType}</td></tr>`,
        )}</tbody></table>`;
  const smartos =
    data.smartos !== undefined
      ? html`<h2 id="smartos">SmartOS images</h2><p class="muted">The image UUIDs <code>imgadm import</code> (≥ 3.8) creates, base layer first.</p><table><caption class="sr">SmartOS image UUIDs</caption><thead><tr><th scope="col">UUID</th><th scope="col">Layer</th></tr></thead><tbody>${data.smartos.rows.map(
          (r) => html`<tr><td><code>${r.uuid}</code></td><td><code title="${r.layer}">${shortDigest(r.layer)}</code></td></tr>`,
        )}</tbody></table>${data.smartos.notes.map((n) => html`<p class="muted">${n}</p>`)}`
      : data.smartosError !== undefined
        ? html`<h2 id="smartos">SmartOS images</h2><p class="muted">${data.smartosError}</p>`
        : html``;
  const referrers =
    data.referrers.length === 0
      ? html``
      : html`<h2 id="referrers">Referrers</h2><table><caption class="sr">Referrers</caption><thead><tr><th scope="col">Kind</th><th scope="col">Digest</th><th scope="col">Artifact type</th><th scope="col" class="num">Size</th></tr></thead><tbody>${data.referrers.map(
          (r) => html`<tr><td><span class="badge">${referrerKind(r)}</span></td><td><a href="${urls.image(data.name, { digest: r.digest })}"><code title="${r.digest}">${shortDigest(r.digest)}</code></a></td><td>${r.artifactType ?? r.mediaType}</td><td class="num">${formatBytes(r.size)}</td></tr>`,
        )}</tbody></table>`;
  return html`<nav aria-label="Breadcrumb"><a href="${urls.home()}">Repositories</a> / <a href="${urls.repo(data.name)}">${data.name}</a> /</nav>
<h1>${title}</h1>
<dl class="kv">
<dt>Digest</dt><dd><code>${s.digest}</code></dd>
<dt>Media type</dt><dd>${mediaTypeLabel(s.mediaType)} <span class="muted">${s.mediaType}</span></dd>
${s.artifactType !== undefined ? html`<dt>Artifact type</dt><dd>${s.artifactType}</dd>` : ''}
<dt>Compressed size</dt><dd>${formatBytes(s.size)}</dd>
<dt>Created</dt><dd>${formatDate(s.created)}</dd>
<dt>Platforms</dt><dd>${s.platforms.length === 0 ? '—' : s.platforms.map((p) => html`<span class="badge">${p}</span>`)}</dd>
${data.tags.length > 0 ? html`<dt>Tags</dt><dd>${data.tags.map((t) => html`<a class="badge" href="${urls.image(data.name, { tag: t })}">${t}</a>`)}</dd>` : ''}
${d.subject !== undefined ? html`<dt>Subject</dt><dd><a href="${urls.image(data.name, { digest: d.subject })}"><code>${d.subject}</code></a></dd>` : ''}
</dl>
<h2>Pull</h2>${pullCommands(data.pull, 'pull')}
${children}${configSection}${history}${layers}${smartos}${referrers}
<h2 id="manifest">Manifest</h2>
<pre tabindex="0" aria-label="Raw manifest"><code>${pretty}</code></pre>
${data.canDelete ? html`<p><a class="button danger" href="${urls.deleteConfirm(data.name, { digest: s.digest })}">Delete this manifest…</a></p>` : ''}`;
}

function prettyJson(raw: Buffer): string {
  try {
    return JSON.stringify(JSON.parse(raw.toString('utf8')), null, 2).slice(0, 60_000);
  } catch {
    return raw.toString('utf8').slice(0, 60_000);
  }
}
