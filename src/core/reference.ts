/**
 * Repository names, tags and references: the distribution-spec grammar, checked before any storage
 * access (so no name or tag can ever reach a driver path unvalidated).
 */
import { RegistryError } from '../errors/registry-error.js';
import { tryParseDigest, type ParsedDigest } from './digest.js';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Clients cap `host[:port]/name` at 255; we cap the name itself at 255. */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function assertName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError('NAME_INVALID', {
      message: 'invalid repository name',
      detail: { name: name.slice(0, 300) },
    });
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function assertTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new RegistryError('TAG_INVALID', { message: 'invalid tag', detail: { tag: tag.slice(0, 200) } });
  }
  return tag;
}

export type Reference = { readonly kind: 'tag'; readonly tag: string } | { readonly kind: 'digest'; readonly digest: ParsedDigest };

/** A manifest reference is exactly a tag or a digest. */
export function parseReference(value: string): Reference {
  if (value.includes(':')) {
    const digest = tryParseDigest(value);
    if (digest === undefined) {
      throw new RegistryError('DIGEST_INVALID', { message: 'invalid digest reference', detail: { reference: value.slice(0, 200) } });
    }
    return { kind: 'digest', digest };
  }
  return { kind: 'tag', tag: assertTag(value) };
}
