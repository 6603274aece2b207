/**
 * v1 names, IDs and tags, checked before any storage access.
 *
 * Repository names: the v1 registry treated a one-component name as `library/<name>`
 * (registry 0.9 `parse_repository_name`; docker 1.x itself asks for `library/<name>` on tag
 * calls while imgadm asks for `<name>`). Berth's v2 repository for both is `<name>`, the name a
 * v2 client pushes `host/<name>` under, so one image is one repository whichever protocol is
 * used. Consequently a v2 repository literally named `library/<name>` is reached over v1 only
 * when no `<name>` repository exists (reads); v1 writes always go to `<name>`.
 *
 * Image IDs: 64 lowercase hex (or the 16-hex short IDs registry 0.9 accepted); anything else —
 * including `..` and encoded slashes — is "Invalid image ID" before a path is ever built.
 * Tags: registry 0.9's `^[\w][\w.-]{0,127}$` (the same grammar as v2 tags, ASCII).
 */
import { RegistryError } from '../../errors/registry-error.js';
import { isV1Id } from '../bridge/v1-chain.js';
import { assertName, isValidTag } from '../reference.js';

export interface V1Name {
  /** The name as v1 shows it: always `<namespace>/<repo>` (`library/x` for a one-component name). */
  readonly v1: string;
  /** The v2 repository v1 writes to. */
  readonly v2: string;
  /** v2 repositories to read, in order of preference. */
  readonly candidates: readonly string[];
}

export function parseV1Name(raw: string): V1Name {
  const trimmed = raw.replace(/\/+$/, '');
  const name = trimmed.startsWith('library/') && !trimmed.slice('library/'.length).includes('/') ? trimmed.slice('library/'.length) : trimmed;
  assertName(name);
  if (name.includes('/')) return { v1: name, v2: name, candidates: [name] };
  return { v1: `library/${name}`, v2: name, candidates: [name, `library/${name}`] };
}

/** How a v2 repository name is shown over v1. */
export function v1DisplayName(v2: string): string {
  return v2.includes('/') ? v2 : `library/${v2}`;
}

export function assertV1Id(id: string): string {
  if (!isV1Id(id)) throw new RegistryError('V1_IMAGE_UNKNOWN', { message: 'Invalid image ID', detail: { id: id.slice(0, 100) } });
  return id;
}

export const TAG_RULE = '^[\\w][\\w.-]{0,127}$';

export function assertV1Tag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new RegistryError('V1_INVALID', { message: `Invalid tag name (must match ${TAG_RULE})`, detail: { tag: tag.slice(0, 200) } });
  }
  return tag;
}
