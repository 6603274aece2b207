/**
 * Narrowing untrusted JSON (stored metadata, request bodies, manifests): the one `isRecord` guard,
 * and parsing stored bytes where corrupt content reads as absent.
 */

/** A plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses stored JSON; missing or malformed content is undefined. */
export function parseStoredJson(raw: Buffer | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
