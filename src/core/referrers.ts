/**
 * The referrers index (OCI 1.1): for each subject digest, the descriptors of the manifests in the
 * repository whose `subject` is that digest. Written when such a manifest is pushed, removed when it
 * is deleted; each entry is a small JSON descriptor so listing never re-reads the manifests.
 */
import type { StorageDriver } from '../../storage-drivers/driver.js';
import type { ParsedDigest } from './digest.js';
import { tryParseDigest } from './digest.js';
import { paths } from './paths.js';
import { deleteIfExists, getOrUndefined, listOrEmpty } from './storage-helpers.js';

export interface ReferrerDescriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export class ReferrersStore {
  constructor(private readonly driver: StorageDriver) {}

  async add(name: string, subject: ParsedDigest, descriptor: ReferrerDescriptor): Promise<void> {
    const d = tryParseDigest(descriptor.digest);
    if (d === undefined) return;
    await this.driver.putContent(paths.referrerEntry(name, subject, d), Buffer.from(JSON.stringify(descriptor)));
  }

  async remove(name: string, subject: ParsedDigest, digest: ParsedDigest): Promise<void> {
    await deleteIfExists(this.driver, paths.referrerEntry(name, subject, digest));
  }

  async list(name: string, subject: ParsedDigest): Promise<ReferrerDescriptor[]> {
    const entries = await listOrEmpty(this.driver, paths.referrersDir(name, subject));
    const out = await Promise.all(
      entries.map(async (path) => {
        const raw = await getOrUndefined(this.driver, path);
        if (raw === undefined) return undefined;
        try {
          return JSON.parse(raw.toString()) as ReferrerDescriptor;
        } catch {
          return undefined;
        }
      }),
    );
    return out.filter((d): d is ReferrerDescriptor => d !== undefined).sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }
}
