/**
 * The v1 view of images pushed over v2. For a manifest of a repository it computes the v1 chain
 * (bridge/v1-chain.ts: distribution's schema2→schema1 algorithm, or the IDs a stored schema1
 * manifest carries; a list/index is served through its linux/amd64 image) and records, for each
 * v1 ID of the chain, where it comes from (`images/<id>/bridge/<key>` in v1/paths.ts), so a v1
 * client can then ask for `/v1/images/<id>/…` on any node. IDs depend on content only, so
 * records written by different nodes agree; a record whose manifest has left its repository is
 * simply skipped. Chains are cached per manifest digest (content never changes).
 */
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import { BridgeError, v1ChainFromImage, v1ChainFromSchema1, type V1Image } from '../bridge/v1-chain.js';
import { tryParseDigest, type ParsedDigest } from '../digest.js';
import { isLinuxAmd64, type Descriptor, type ParsedManifest } from '../manifests/parse.js';
import type { Registry } from '../registry.js';
import { getOrUndefined, listOrEmpty } from '../storage-helpers.js';
import { v1Paths } from './paths.js';
import { isRecord } from '../json.js';

export interface BridgedChain {
  /** The image manifest the chain is of (the linux/amd64 child when the tag names a list). */
  readonly manifest: ParsedDigest;
  readonly images: readonly V1Image[];
  /** Layer descriptors by blob digest (schema2/OCI only), for media types. */
  readonly descriptors: ReadonlyMap<string, Descriptor>;
}

export interface BridgedImage {
  readonly repository: string;
  readonly chain: BridgedChain;
  readonly position: number;
  readonly image: V1Image;
}

interface BridgeRecord {
  readonly repository: string;
  readonly manifest: string;
  readonly position: number;
}

const CHAIN_CACHE_MAX = 1024;
const WRITTEN_CACHE_MAX = 16_384;

function parseRecord(raw: Buffer): BridgeRecord | undefined {
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    if (!isRecord(value)) return undefined;
    const { repository, manifest, position } = value;
    if (typeof repository !== 'string' || typeof manifest !== 'string' || typeof position !== 'number') return undefined;
    return { repository, manifest, position };
  } catch {
    return undefined;
  }
}

export class V1Bridge {
  private readonly chains = new Map<string, BridgedChain | null>();
  private readonly written = new Set<string>();

  constructor(
    private readonly registry: Registry,
    private readonly driver: StorageDriver,
  ) {}

  /**
   * The chain of the manifest `digest` of `repository`, or undefined when it has no v1 view
   * (an artifact, a list without linux/amd64, foreign layers, a missing config).
   */
  async chainOf(repository: string, digest: ParsedDigest): Promise<BridgedChain | undefined> {
    const manifest = await this.registry.manifests.get(repository, digest);
    if (manifest === undefined) return undefined;
    let parsed: ParsedManifest = manifest.parsed;
    let imageDigest = digest;
    if (parsed.kind === 'index') {
      const child = parsed.manifests.find(isLinuxAmd64);
      if (child === undefined) return undefined;
      const childManifest = await this.registry.manifests.get(repository, child.digest);
      if (childManifest === undefined || childManifest.parsed.kind === 'index') return undefined;
      parsed = childManifest.parsed;
      imageDigest = child.digest;
    }
    const cached = this.chains.get(imageDigest.digest);
    if (cached !== undefined) return cached ?? undefined;
    const chain = await this.compute(imageDigest, parsed);
    this.chains.set(imageDigest.digest, chain ?? null);
    if (this.chains.size > CHAIN_CACHE_MAX) {
      const oldest = this.chains.keys().next();
      if (oldest.done !== true) this.chains.delete(oldest.value);
    }
    return chain;
  }

  private async compute(digest: ParsedDigest, parsed: ParsedManifest): Promise<BridgedChain | undefined> {
    try {
      if (parsed.kind === 'schema1') return { manifest: digest, images: v1ChainFromSchema1(parsed.json), descriptors: new Map() };
      if (parsed.config === undefined) return undefined;
      const configType = parsed.config.mediaType;
      if (configType !== 'application/vnd.docker.container.image.v1+json' && configType !== 'application/vnd.oci.image.config.v1+json') {
        return undefined;
      }
      const config = await this.registry.blobs.getSmall(parsed.config.digest);
      if (config === undefined) return undefined;
      const images = v1ChainFromImage(parsed.layers, config);
      return { manifest: digest, images, descriptors: new Map(parsed.layers.map((l) => [l.digest.digest, l])) };
    } catch (error) {
      if (error instanceof BridgeError) return undefined;
      throw error;
    }
  }

  /** Writes the bridge records of a chain (idempotent; skipped when this process already did). */
  async record(repository: string, chain: BridgedChain): Promise<void> {
    await Promise.all(
      chain.images.map(async (image, position) => {
        const path = v1Paths.bridge(image.id, repository, chain.manifest.digest);
        if (this.written.has(path)) return;
        const body = Buffer.from(JSON.stringify({ repository, manifest: chain.manifest.digest, position }));
        const existing = await getOrUndefined(this.driver, path);
        if (existing === undefined || !existing.equals(body)) await this.driver.putContent(path, body);
        this.written.add(path);
        if (this.written.size > WRITTEN_CACHE_MAX) this.written.clear();
      }),
    );
  }

  /** Every live bridge source of a v1 ID, in a stable order. */
  async lookup(id: string): Promise<BridgedImage[]> {
    const entries = (await listOrEmpty(this.driver, v1Paths.bridgeDir(id))).sort();
    const found: BridgedImage[] = [];
    for (const path of entries) {
      const raw = await getOrUndefined(this.driver, path);
      const rec = raw === undefined ? undefined : parseRecord(raw);
      const digest = rec === undefined ? undefined : tryParseDigest(rec.manifest);
      if (rec === undefined || digest === undefined) continue;
      const chain = await this.chainOf(rec.repository, digest);
      const image = chain?.images[rec.position];
      if (chain === undefined || image === undefined || image.id !== id) continue;
      found.push({ repository: rec.repository, chain, position: rec.position, image });
    }
    return found;
  }

  /** True when some bridge record names this ID (live or not). */
  async known(id: string): Promise<boolean> {
    return (await listOrEmpty(this.driver, v1Paths.bridgeDir(id))).length > 0;
  }
}
