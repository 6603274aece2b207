/**
 * What the UI says about a manifest: a summary for tag tables (compressed size, created date,
 * platforms, media type) and the details for the image page (config, history, layers, children).
 * Read through the core stores; results are memoised by digest, which names immutable content.
 * Docker schema 2, OCI manifests and indexes, and schema 1 (what old clients and v1 pushes left)
 * are all described.
 */
import type { ParsedDigest } from '../../core/digest.js';
import { isRecord } from '../../core/json.js';
import type { Descriptor, ParsedManifest } from '../../core/manifests/parse.js';
import type { Registry } from '../../core/registry.js';
import { Memo, mapLimit } from '../../smartos/memo.js';
import { formatPlatform } from '../format.js';

export interface ManifestSummary {
  readonly digest: string;
  readonly mediaType: string;
  readonly kind: ParsedManifest['kind'];
  readonly artifactType?: string;
  /** Compressed bytes: config + layers; for an index, the sum over its children. */
  readonly size?: number;
  readonly created?: string;
  readonly platforms: readonly string[];
}

export interface ConfigView {
  readonly created?: string;
  readonly platform?: string;
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env: readonly string[];
  readonly exposedPorts: readonly string[];
  readonly volumes: readonly string[];
  readonly labels: readonly (readonly [string, string])[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly author?: string;
}

export interface HistoryRow {
  readonly created?: string;
  readonly createdBy?: string;
  readonly comment?: string;
  readonly emptyLayer: boolean;
}

export interface LayerRow {
  readonly digest: string;
  readonly mediaType: string;
  readonly size?: number;
}

export interface ChildRow {
  readonly digest: string;
  readonly mediaType: string;
  readonly platform: string;
  readonly size: number;
  readonly attestation: boolean;
}

export interface ImageDetails {
  readonly summary: ManifestSummary;
  readonly raw: Buffer;
  readonly parsed: ParsedManifest;
  readonly config?: ConfigView;
  readonly history: readonly HistoryRow[];
  readonly layers: readonly LayerRow[];
  readonly children: readonly ChildRow[];
  readonly subject?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strList = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : undefined);
const keys = (v: unknown): string[] => (isRecord(v) ? Object.keys(v).sort() : []);

function parseJson(bytes: Buffer | string | undefined): Record<string, unknown> | undefined {
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The config view of an image config document (Docker and OCI share the keys). */
export function configView(doc: Record<string, unknown>): ConfigView {
  const c = isRecord(doc['config']) ? doc['config'] : isRecord(doc['container_config']) ? doc['container_config'] : {};
  const os = str(doc['os']);
  const architecture = str(doc['architecture']);
  const variant = str(doc['variant']);
  const labels = isRecord(c['Labels']) ? Object.entries(c['Labels']).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)] as const) : [];
  const entrypoint = strList(c['Entrypoint']);
  const cmd = strList(c['Cmd']);
  const created = str(doc['created']);
  const workingDir = str(c['WorkingDir']);
  const user = str(c['User']);
  const author = str(doc['author']);
  return {
    ...(created !== undefined ? { created } : {}),
    ...(os !== undefined && architecture !== undefined ? { platform: formatPlatform({ os, architecture, ...(variant !== undefined ? { variant } : {}) }) } : {}),
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    ...(cmd !== undefined ? { cmd } : {}),
    env: strList(c['Env']) ?? [],
    exposedPorts: keys(c['ExposedPorts']),
    volumes: keys(c['Volumes']),
    labels: labels.sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    ...(workingDir !== undefined && workingDir !== '' ? { workingDir } : {}),
    ...(user !== undefined && user !== '' ? { user } : {}),
    ...(author !== undefined ? { author } : {}),
  };
}

function isAttestation(d: Descriptor): boolean {
  return d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' || (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown');
}

export class ManifestDetails {
  private readonly summaries = new Memo<ManifestSummary>(20_000);
  private readonly configs = new Memo<Record<string, unknown> | null>(4096);

  constructor(private readonly registry: Registry) {}

  async summary(name: string, digest: ParsedDigest): Promise<ManifestSummary | undefined> {
    const memo = this.summaries.get(digest.digest);
    if (memo !== undefined) return memo;
    const stored = await this.registry.manifests.get(name, digest);
    if (stored === undefined) return undefined;
    const summary = await this.summarise(name, digest, stored.parsed);
    this.summaries.set(digest.digest, summary);
    return summary;
  }

  async details(name: string, digest: ParsedDigest): Promise<ImageDetails | undefined> {
    const stored = await this.registry.manifests.get(name, digest);
    if (stored === undefined) return undefined;
    const { parsed } = stored;
    const summary = (await this.summary(name, digest)) ?? (await this.summarise(name, digest, parsed));
    const base = { summary, raw: stored.bytes, parsed, ...(parsed.subject !== undefined ? { subject: parsed.subject.digest.digest } : {}) };
    if (parsed.kind === 'index') {
      const children = parsed.manifests.map((m) => ({
        digest: m.digest.digest,
        mediaType: m.mediaType,
        platform: m.platform !== undefined ? formatPlatform(m.platform) : 'unknown',
        size: m.size,
        attestation: isAttestation(m),
      }));
      return { ...base, history: [], layers: [], children };
    }
    if (parsed.kind === 'schema1') return { ...base, ...(await this.schema1(parsed)), children: [] };
    const doc = await this.config(parsed);
    const layers = parsed.layers.map((l) => ({ digest: l.digest.digest, mediaType: l.mediaType, size: l.size }));
    const history = Array.isArray(doc?.['history'])
      ? doc['history'].filter(isRecord).map((h) => {
          const created = str(h['created']);
          const createdBy = str(h['created_by']);
          const comment = str(h['comment']);
          return { ...(created !== undefined ? { created } : {}), ...(createdBy !== undefined ? { createdBy } : {}), ...(comment !== undefined ? { comment } : {}), emptyLayer: h['empty_layer'] === true };
        })
      : [];
    return { ...base, ...(doc !== undefined ? { config: configView(doc) } : {}), history, layers, children: [] };
  }

  private async schema1(parsed: ParsedManifest): Promise<Pick<ImageDetails, 'config' | 'history' | 'layers'>> {
    const entries = Array.isArray(parsed.json['history']) ? parsed.json['history'] : [];
    const docs = entries.map((h) => parseJson(isRecord(h) ? str(h['v1Compatibility']) : undefined) ?? {});
    const sizes = await mapLimit(parsed.fsLayers, 8, (d) => this.registry.blobs.globalSize(d));
    // schema 1 lists the top layer first; show base first like schema 2.
    const layers = parsed.fsLayers.map((d, i) => ({ digest: d.digest, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...(sizes[i] !== undefined ? { size: sizes[i] } : {}) })).reverse();
    const history = docs
      .map((d) => {
        const cc = isRecord(d['container_config']) ? d['container_config'] : {};
        const created = str(d['created']);
        const cmd = strList(cc['Cmd']);
        return { ...(created !== undefined ? { created } : {}), ...(cmd !== undefined ? { createdBy: cmd.join(' ') } : {}), emptyLayer: d['throwaway'] === true };
      })
      .reverse();
    const top = docs[0];
    return { ...(top !== undefined ? { config: configView(top) } : {}), history, layers };
  }

  private async config(parsed: ParsedManifest): Promise<Record<string, unknown> | undefined> {
    if (parsed.config === undefined) return undefined;
    const key = parsed.config.digest.digest;
    const memo = this.configs.get(key);
    if (memo !== undefined) return memo ?? undefined;
    // Artifacts may carry large or non-JSON configs: only small JSON configs are read.
    const doc = parsed.config.size <= 4 * 1024 * 1024 ? parseJson(await this.registry.blobs.getSmall(parsed.config.digest)) : undefined;
    this.configs.set(key, doc ?? null);
    return doc;
  }

  private async summarise(name: string, digest: ParsedDigest, parsed: ParsedManifest): Promise<ManifestSummary> {
    const common = { digest: digest.digest, mediaType: parsed.mediaType, kind: parsed.kind, ...(parsed.artifactType !== undefined ? { artifactType: parsed.artifactType } : {}) };
    if (parsed.kind === 'index') {
      const children = parsed.manifests.filter((m) => !isAttestation(m));
      const sums = await mapLimit(children, 8, async (m) => (await this.summary(name, m.digest))?.size);
      const created = (await mapLimit(children.slice(0, 1), 1, async (m) => (await this.summary(name, m.digest))?.created))[0];
      const size = sums.every((s) => s !== undefined) ? sums.reduce<number>((a, b) => a + (b ?? 0), 0) : undefined;
      return { ...common, platforms: children.map((m) => formatPlatform(m.platform)), ...(size !== undefined ? { size } : {}), ...(created !== undefined ? { created } : {}) };
    }
    if (parsed.kind === 'schema1') {
      const sizes = await mapLimit(parsed.fsLayers, 8, (d) => this.registry.blobs.globalSize(d));
      const entries = Array.isArray(parsed.json['history']) ? parsed.json['history'] : [];
      const top = parseJson(isRecord(entries[0]) ? str(entries[0]['v1Compatibility']) : undefined) ?? {};
      const view = configView(top);
      const unique = new Set<string>();
      let size = 0;
      parsed.fsLayers.forEach((d, i) => {
        if (!unique.has(d.digest)) size += sizes[i] ?? 0;
        unique.add(d.digest);
      });
      return { ...common, size, platforms: view.platform !== undefined ? [view.platform] : [], ...(view.created !== undefined ? { created: view.created } : {}) };
    }
    const doc = await this.config(parsed);
    const view = doc !== undefined ? configView(doc) : undefined;
    const size = (parsed.config?.size ?? 0) + parsed.layers.reduce((a, l) => a + l.size, 0);
    return { ...common, size, platforms: view?.platform !== undefined ? [view.platform] : [], ...(view?.created !== undefined ? { created: view.created } : {}) };
  }
}

