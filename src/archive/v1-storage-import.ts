/**
 * `berth import-v1-storage`: a one-time conversion of the tree the old Python registry (0.9.x)
 * wrote under its STORAGE_PATH into Berth's v1 store, through core/v1 exactly as a v1 push would
 * go (PUT json → PUT layer → PUT checksum → PUT tag), so IDs, payload checksums, ancestry and the
 * v1⇄v2 bridge are those of a real push.
 *
 * Old layout read (docker-registry `core/driver.py`; `_checksum` from `images.py`, tags from
 * `tags.py`, `_index_images` from `index.py`):
 *   images/<id>/json           image JSON as pushed (imported byte for byte)
 *   images/<id>/layer          layer bytes as pushed (streamed, never held in memory)
 *   images/<id>/_checksum      JSON list ["sha256:<hex>", "tarsum+sha256:…"?] or, older, a bare string
 *   images/<id>/_inprogress    push never finished: the image (and tags needing it) is skipped
 *   images/<id>/ancestry       not read: Berth computes ancestry from the `parent` fields
 *   repositories/<ns>/<repo>/tag_<tag>      the image ID, bare (no quotes, no newline)
 *   repositories/<ns>/<repo>/tag<tag>_json  tag metadata (docker/go/kernel/os/arch, last_update)
 *   repositories/<ns>/<repo>/_index_images  JSON list [{"id", "checksum"?, "Tag"?}]
 *   (`json`, `_images_list`, `_private`, `_files`, `_diff`: nothing to import)
 * Path parts were `quote_plus`-escaped by the old driver; `library/x` becomes Berth's `x`.
 *
 * Rules: every ID is checked (64 or 16 hex) before it names a path; a layer whose payload
 * checksum `sha256(json + "\n" + layer)` differs from its `_checksum` is refused by core (the
 * image is discarded) and reported, and so are the images above it and the tags that need it;
 * an image already in Berth with the same JSON, a tag already pointing at the same image and
 * index entries already present are left alone (a second run changes nothing and says so); a tag
 * Berth already has for another image is never overwritten. Images no tag reaches are imported
 * too (v1 clients could pull them by ID) unless `taggedOnly`.
 */
import { Readable } from 'node:stream';
import { isV1Id } from '../core/bridge/v1-chain.js';
import { isRecord } from '../core/json.js';
import { isValidTag } from '../core/reference.js';
import type { Registry } from '../core/registry.js';
import { MAX_ANCESTRY } from '../core/v1/images.js';
import { parseV1Name, type V1Name } from '../core/v1/names.js';
import type { IndexImage, V1Store } from '../core/v1/store.js';
import { RegistryError } from '../errors/registry-error.js';
import type { V1TreeSource } from './v1-tree-source.js';

const MAX_TAG_FILE = 1024;
const MAX_SMALL_JSON = 64 * 1024;
const MAX_INDEX_IMAGES = 16 * 1024 * 1024;
const IMPORT_USER_AGENT = 'berth-import-v1-storage';

export interface V1ImportOptions {
  /** Import only images some tag needs. */
  readonly taggedOnly: boolean;
  /** Largest image JSON accepted (Berth's manifest limit, as for a v1 PUT json). */
  readonly maxJsonBytes: number;
  /** One progress line at a time. */
  readonly report: (line: string) => void;
}

export interface Counts {
  imported: number;
  present: number;
  skipped: number;
  failed: number;
}

export interface V1ImportSummary {
  readonly repositories: number;
  readonly tags: Readonly<Counts>;
  readonly images: Readonly<Counts>;
  readonly indexEntries: number;
  /** Layer bytes read from the old tree. */
  readonly bytes: number;
  /** One line per failure (also reported as it happened). */
  readonly problems: readonly string[];
  /** Nothing failed. */
  readonly ok: boolean;
  /** Something was written to Berth's store. */
  readonly changed: boolean;
}

type Outcome = { readonly kind: keyof Counts; readonly reason?: string };

interface OldImage {
  readonly json: Buffer;
  readonly parent: string | undefined;
  readonly inProgress: boolean;
}

function zero(): Counts {
  return { imported: 0, present: 0, skipped: 0, failed: 0 };
}

function short(id: string): string {
  return id.slice(0, 12);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Python's `unquote_plus`; undefined for malformed escapes. */
function unquotePlus(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The old `_checksum`: a JSON list of strings, or (registry < 0.7) one bare string. */
function parseOldChecksums(raw: Buffer | undefined): string[] {
  if (raw === undefined) return [];
  const text = raw.toString('utf8').trim();
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value)) return value.filter((c): c is string => typeof c === 'string');
    if (typeof value === 'string') return [value];
    return [];
  } catch {
    return text === '' ? [] : [text];
  }
}

/** A User-Agent that makes core write the old tag metadata back (tags.py parses the same tokens). */
function userAgentOf(meta: unknown): string {
  if (!isRecord(meta)) return IMPORT_USER_AGENT;
  const parts = [IMPORT_USER_AGENT];
  const token = (name: string, key: string): void => {
    const v = meta[key];
    if (typeof v === 'string' && /^[^\s/]{1,100}$/.test(v)) parts.push(`${name}/${v}`);
  };
  token('docker', 'docker_version');
  token('go', 'docker_go_version');
  token('kernel', 'kernel');
  token('os', 'os');
  token('arch', 'arch');
  return parts.join(' ');
}

function lastUpdateOf(meta: unknown): Date | undefined {
  if (!isRecord(meta) || typeof meta['last_update'] !== 'number' || !Number.isFinite(meta['last_update'])) return undefined;
  const when = new Date(meta['last_update'] * 1000);
  return Number.isNaN(when.getTime()) ? undefined : when;
}

class V1Importer {
  private readonly outcomes = new Map<string, Outcome>();
  private readonly old = new Map<string, OldImage | Outcome>();
  private readonly tags = zero();
  private readonly images = zero();
  private readonly problems: string[] = [];
  private indexEntries = 0;
  private bytes = 0;
  private repositories = 0;

  constructor(
    private readonly source: V1TreeSource,
    private readonly registry: Registry,
    private readonly store: V1Store,
    private readonly options: V1ImportOptions,
  ) {}

  private report(line: string): void {
    this.options.report(line);
  }

  private fail(what: string, reason: string): void {
    this.problems.push(`${what}: ${reason}`);
    this.report(`  FAILED ${what}: ${reason}`);
  }

  async run(): Promise<V1ImportSummary> {
    this.report(`importing the old registry's v1 storage from ${this.source.description}`);
    const repos = await this.listRepositories();
    this.report(`repositories: ${repos.length} found`);
    let n = 0;
    for (const [ns, repo] of repos) {
      n += 1;
      this.repositories += 1;
      await this.importRepository(ns, repo, `[${n}/${repos.length}]`);
      this.report(`  progress: images ${this.images.imported} imported, ${this.images.present} already there; ${formatBytes(this.bytes)} of layers read`);
    }
    if (!this.options.taggedOnly) await this.importUntagged();
    return this.summary();
  }

  private summary(): V1ImportSummary {
    const changed = this.tags.imported + this.images.imported + this.indexEntries > 0;
    const ok = this.problems.length === 0;
    const c = (x: Counts): string => `${x.imported} imported, ${x.present} already there, ${x.skipped} skipped, ${x.failed} failed`;
    this.report(`summary: ${this.repositories} repositories; tags: ${c(this.tags)}; images: ${c(this.images)}; ${formatBytes(this.bytes)} of layers read (${this.bytes} bytes)`);
    if (!ok) this.report(`import incomplete: ${this.problems.length} problem(s), listed above as FAILED; fix them and run the command again`);
    else if (!changed) this.report('nothing to do: everything was already imported');
    else this.report('import complete');
    return {
      repositories: this.repositories,
      tags: { ...this.tags },
      images: { ...this.images },
      indexEntries: this.indexEntries,
      bytes: this.bytes,
      problems: [...this.problems],
      ok,
      changed,
    };
  }

  private async listRepositories(): Promise<Array<[string, string]>> {
    const out: Array<[string, string]> = [];
    for (const ns of (await this.source.list(['repositories'])).sort()) {
      for (const repo of (await this.safeList(['repositories', ns])).sort()) out.push([ns, repo]);
    }
    return out;
  }

  private async safeList(dir: readonly string[]): Promise<string[]> {
    try {
      return await this.source.list(dir);
    } catch (error) {
      this.fail(dir.join('/'), message(error));
      return [];
    }
  }

  // ---- repositories and tags

  private async importRepository(nsDir: string, repoDir: string, counter: string): Promise<void> {
    const ns = unquotePlus(nsDir);
    const repo = unquotePlus(repoDir);
    let name: V1Name;
    try {
      if (ns === undefined || repo === undefined) throw new Error('malformed %-escape in the directory name');
      name = parseV1Name(`${ns}/${repo}`);
    } catch (error) {
      this.report(`${counter} repositories/${nsDir}/${repoDir}`);
      this.fail(`repository ${nsDir}/${repoDir}`, `not a valid repository name (${message(error)})`);
      return;
    }
    const dir = ['repositories', nsDir, repoDir];
    const entries = (await this.safeList(dir)).sort();
    const tagFiles = entries.filter((e) => e.startsWith('tag_'));
    this.report(`${counter} repository ${name.v1}: ${tagFiles.length} tag file(s)${name.v2 !== name.v1 ? ` (Berth name ${name.v2})` : ''}`);
    if (entries.includes('_private')) this.report('  note: the old `_private` flag is not imported; use Berth\'s access rules');
    for (const file of tagFiles) await this.importTag(name, dir, file);
    if (entries.includes('_index_images')) await this.importIndexImages(name, dir);
  }

  private async importTag(name: V1Name, dir: readonly string[], file: string): Promise<void> {
    const raw = file.slice('tag_'.length);
    const tag = unquotePlus(raw) ?? '';
    const what = `tag ${name.v1}:${tag.slice(0, 128) || raw.slice(0, 128)}`;
    let content: Buffer | undefined;
    try {
      content = await this.source.read([...dir, file], MAX_TAG_FILE);
    } catch (error) {
      this.tags.failed += 1;
      this.fail(what, message(error));
      return;
    }
    const text = (content ?? Buffer.alloc(0)).toString('utf8').trim();
    // `tag_x_json` is the metadata file of the tag `_x` (`tag` + `_x` + `_json`), not a tag.
    if (file.endsWith('_json') && text.startsWith('{')) return;
    const id = text.replace(/^"(.*)"$/, '$1');
    if (!isValidTag(tag)) {
      this.tags.failed += 1;
      this.fail(what, 'not a valid tag name');
      return;
    }
    if (!isV1Id(id)) {
      this.tags.failed += 1;
      this.fail(what, `the tag file does not hold an image ID (${JSON.stringify(text.slice(0, 80))})`);
      return;
    }
    const outcome = await this.importChain(id);
    if (outcome.kind === 'failed' || outcome.kind === 'skipped') {
      this.tags[outcome.kind] += 1;
      if (outcome.kind === 'failed') this.fail(what, `image ${short(id)} was not imported`);
      else this.report(`  skipped ${what}: image ${short(id)} ${outcome.reason ?? 'was skipped'}`);
      return;
    }
    try {
      const current = await this.registry.tags.resolve(name.v2, tag);
      if (current !== undefined) {
        const currentId = await this.store.tagIn(name.v2, tag);
        if (currentId === id) {
          this.tags.present += 1;
          this.report(`  ${what} → ${short(id)} already there`);
        } else {
          this.tags.failed += 1;
          this.fail(what, `Berth already has this tag for ${currentId === undefined ? current.digest : `image ${short(currentId)}`}; left unchanged`);
        }
        return;
      }
      const meta = await this.readJson([...dir, `tag${raw}_json`]);
      await this.store.putTag(name.v2, tag, id, userAgentOf(meta), lastUpdateOf(meta) ?? new Date());
      this.tags.imported += 1;
      this.report(`  ${what} → ${short(id)} imported`);
    } catch (error) {
      this.tags.failed += 1;
      this.fail(what, message(error));
    }
  }

  private async readJson(path: readonly string[]): Promise<unknown> {
    try {
      const raw = await this.source.read(path, MAX_SMALL_JSON);
      return raw === undefined ? undefined : JSON.parse(raw.toString('utf8'));
    } catch {
      return undefined;
    }
  }

  private async importIndexImages(name: V1Name, dir: readonly string[]): Promise<void> {
    let value: unknown;
    try {
      const raw = await this.source.read([...dir, '_index_images'], MAX_INDEX_IMAGES);
      value = raw === undefined ? [] : JSON.parse(raw.toString('utf8'));
    } catch (error) {
      this.fail(`${name.v1} _index_images`, message(error));
      return;
    }
    if (!Array.isArray(value)) {
      this.fail(`${name.v1} _index_images`, 'not a JSON list');
      return;
    }
    const wanted: IndexImage[] = value.filter(isRecord).flatMap((e) => {
      const { id, checksum } = e;
      if (typeof id !== 'string' || !isV1Id(id)) return [];
      return [{ id, ...(typeof checksum === 'string' && checksum !== '' ? { checksum } : {}) }];
    });
    if (wanted.length < value.length) this.report(`  note: ${value.length - wanted.length} entr(ies) of _index_images without a valid image ID ignored`);
    const current = new Map(((await this.store.indexImages(name.v2)) ?? []).map((i) => [i.id, i]));
    const missing = wanted.filter((w) => {
      const have = current.get(w.id);
      return have === undefined || (w.checksum !== undefined && have.checksum !== w.checksum);
    });
    if (missing.length === 0) return;
    await this.store.mergeIndexImages(name.v2, missing);
    this.indexEntries += missing.length;
    this.report(`  index image list: ${missing.length} entr(ies) merged`);
  }

  // ---- images

  private async importUntagged(): Promise<void> {
    const names = (await this.safeList(['images'])).sort();
    const left = names.filter((n) => !this.outcomes.has(n));
    this.report(`images no tag needs: ${left.filter((n) => isV1Id(n)).length} to look at`);
    for (const entry of left) {
      if (!isV1Id(entry)) {
        this.images.skipped += 1;
        this.report(`  skipped images/${entry.slice(0, 100)}: not an image ID`);
        continue;
      }
      await this.importChain(entry);
    }
  }

  /** Reads (once) and checks an old image's JSON; an Outcome when it cannot be imported. */
  private async readOld(id: string): Promise<OldImage | Outcome> {
    const cached = this.old.get(id);
    if (cached !== undefined) return cached;
    let result: OldImage | Outcome;
    try {
      const json = await this.source.read(['images', id, 'json'], this.options.maxJsonBytes);
      if (json === undefined) {
        result = { kind: 'failed', reason: 'images/<id>/json is missing' };
      } else {
        let doc: unknown;
        try {
          doc = JSON.parse(json.toString('utf8'));
        } catch {
          doc = undefined;
        }
        const parent = isRecord(doc) ? doc['parent'] : undefined;
        if (!isRecord(doc) || doc['id'] !== id) result = { kind: 'failed', reason: 'its json is not an image JSON with this id' };
        else if (parent !== undefined && parent !== null && parent !== '' && (typeof parent !== 'string' || !isV1Id(parent) || parent === id)) {
          result = { kind: 'failed', reason: `its parent ${JSON.stringify(String(parent).slice(0, 80))} is not an image ID` };
        } else {
          const inProgress = await this.source.exists(['images', id, '_inprogress']);
          result = { json, parent: typeof parent === 'string' && parent !== '' ? parent : undefined, inProgress };
        }
      }
    } catch (error) {
      result = { kind: 'failed', reason: message(error) };
    }
    this.old.set(id, result);
    return result;
  }

  /** Imports an image after its ancestors (base first); the image's outcome. */
  private async importChain(id: string): Promise<Outcome> {
    const chain: Array<{ id: string; old: OldImage }> = [];
    let cur: string | undefined = id;
    let below: Outcome | undefined;
    const seen = new Set<string>();
    while (cur !== undefined) {
      const known = this.outcomes.get(cur);
      if (known !== undefined) {
        below = known;
        break;
      }
      if (seen.has(cur) || seen.size >= MAX_ANCESTRY) {
        below = { kind: 'failed', reason: `its ancestry loops or is deeper than ${MAX_ANCESTRY}` };
        this.record(cur, below);
        break;
      }
      seen.add(cur);
      const old = await this.readOld(cur);
      if ('kind' in old) {
        below = old;
        this.record(cur, old);
        break;
      }
      chain.push({ id: cur, old });
      cur = old.parent;
    }
    for (const { id: next, old } of chain.reverse()) {
      if (below !== undefined && (below.kind === 'failed' || below.kind === 'skipped')) {
        below = { kind: below.kind, reason: below.kind === 'failed' ? 'an ancestor failed' : 'an ancestor was still being pushed' };
        this.record(next, below);
        continue;
      }
      below = await this.importImage(next, old);
      this.record(next, below);
    }
    return this.outcomes.get(id) ?? { kind: 'failed', reason: 'not imported' };
  }

  private record(id: string, outcome: Outcome): void {
    if (this.outcomes.has(id)) return;
    this.outcomes.set(id, outcome);
    // The outcome is all later chains need: drop the JSON (large trees hold many images).
    this.old.delete(id);
    this.images[outcome.kind] += 1;
    if (outcome.kind === 'failed') this.fail(`image ${id}`, outcome.reason ?? 'failed');
    else if (outcome.kind === 'skipped') this.report(`  skipped image ${short(id)}: ${outcome.reason ?? ''}`);
  }

  private async importImage(id: string, old: OldImage): Promise<Outcome> {
    if (old.inProgress) return { kind: 'skipped', reason: 'was still being pushed (_inprogress): the old registry did not serve it either' };
    try {
      const existing = await this.store.images.get(id);
      if (existing?.complete === true) {
        if (existing.json.equals(old.json)) {
          this.report(`  image ${short(id)} already there`);
          return { kind: 'present' };
        }
        return { kind: 'failed', reason: 'Berth already has a different image with this ID' };
      }
      if (existing === undefined && (await this.store.bridge.known(id))) return { kind: 'failed', reason: 'this ID is already the v1 view of an image pushed over v2' };
      const olds = parseOldChecksums(await this.source.read(['images', id, '_checksum'], MAX_SMALL_JSON));
      const layer = await this.source.open(['images', id, 'layer']);
      if (layer === undefined) return { kind: 'failed', reason: 'images/<id>/layer is missing' };
      let size = 0;
      const counted = Readable.from(
        (async function* (importer: V1Importer): AsyncGenerator<Buffer> {
          try {
            for await (const chunk of layer) {
              const buf = chunk as Buffer;
              size += buf.length;
              importer.bytes += buf.length;
              yield buf;
            }
          } finally {
            layer.destroy();
          }
        })(this),
      );
      await this.store.putJson(id, old.json);
      await this.store.images.putLayer(id, counted);
      const computed = (await this.store.images.get(id))?.checksums ?? [];
      const expected = olds.filter((c) => c.startsWith('sha256:'));
      const tarsum = olds.find((c) => c.startsWith('tarsum'));
      const payload = expected.find((c) => computed.includes(c)) ?? expected[0] ?? computed[0];
      if (payload === undefined) return { kind: 'failed', reason: 'no payload checksum could be computed' };
      try {
        await this.store.images.putChecksum(id, payload, tarsum);
      } catch (error) {
        if (error instanceof RegistryError && error.code === 'V1_CHECKSUM_INVALID') {
          return { kind: 'failed', reason: `layer checksum mismatch: _checksum says ${payload}, the layer gives ${computed[0] ?? '?'} (image not imported)` };
        }
        throw error;
      }
      const how = expected.length > 0 ? 'checksum verified' : 'no sha256 in _checksum: not verified';
      this.report(`  image ${short(id)} imported, ${formatBytes(size)} (${how})`);
      return { kind: 'imported' };
    } catch (error) {
      return { kind: 'failed', reason: message(error) };
    }
  }
}

/**
 * Imports the old tree `source` into `store` (built on `registry`); reports progress through
 * `options.report` and returns the summary (also reported last).
 */
export async function importV1Storage(source: V1TreeSource, registry: Registry, store: V1Store, options: V1ImportOptions): Promise<V1ImportSummary> {
  return new V1Importer(source, registry, store, options).run();
}
