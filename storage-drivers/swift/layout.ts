/**
 * Object names of the swift driver inside its container. Everything lives below the configured
 * prefix `P` (`''` or `a/b/`), in three pseudo-directories:
 *
 * ```
 * P files/<path>                      the file at driver path <path>: a plain object (putContent,
 *                                     small or empty commits) or an SLO manifest (writer commits)
 * P segments/<session>/<8 digits>     the data of one writer session, segment by segment
 * P segments/<session>/m<8 digits>    sub-manifests when a file has more segments than one
 *                                     manifest may list (Swift's max_manifest_segments)
 * P sessions/<path>/<session>         empty marker: <session> holds resumable data for <path>
 * ```
 *
 * A session id is `<12 hex digits of epoch ms>-<12 random hex digits>`, so ids sort by age.
 *
 * Why segments are not filed under their path: a committed manifest may be moved (the registry
 * moves every blob from its upload directory into the content store, then deletes the upload
 * directory). Segments named after the upload path would be deleted with it. Here a session is
 * owned either by a marker (uncommitted: deleted with its path) or by the one manifest that
 * references it (committed: deleted with that manifest, wherever it was moved to); commit turns
 * the first into the second by deleting the marker.
 */
import { randomBytes } from 'node:crypto';

export const SESSION_ID = /^[0-9a-f]{12}-[0-9a-f]{12}$/;

export type SegmentName =
  | { readonly kind: 'segment'; readonly session: string; readonly index: number }
  | { readonly kind: 'manifest'; readonly session: string; readonly index: number };

export class Layout {
  readonly #files: string;
  readonly #segments: string;
  readonly #sessions: string;

  /** `root` is the normalized prefix: `''` or `a/b/`. */
  constructor(readonly root: string) {
    this.#files = `${root}files`;
    this.#segments = `${root}segments/`;
    this.#sessions = `${root}sessions`;
  }

  /** Object name of the file at a driver path (`/a/b` → `P files/a/b`). */
  file(path: string): string {
    return path === '/' ? this.#files : `${this.#files}${path}`;
  }

  /** Listing prefix of the children of a driver directory. */
  children(path: string): string {
    return `${this.file(path)}/`;
  }

  /** The driver path of a file object name (or of a listing's subdir, trailing slash dropped). */
  pathOf(name: string): string | undefined {
    const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
    if (!trimmed.startsWith(`${this.#files}/`)) return undefined;
    return trimmed.slice(this.#files.length);
  }

  segment(session: string, index: number): string {
    return `${this.#segments}${session}/${pad(index)}`;
  }

  subManifest(session: string, index: number): string {
    return `${this.#segments}${session}/m${pad(index)}`;
  }

  /** Listing prefix of everything a session stored. */
  sessionData(session: string): string {
    return `${this.#segments}${session}/`;
  }

  /** Parses a segment or sub-manifest name; undefined for anything else. */
  parseSegment(name: string): SegmentName | undefined {
    if (!name.startsWith(this.#segments)) return undefined;
    const match = /^([0-9a-f]{12}-[0-9a-f]{12})\/(m?)(\d{8})$/.exec(name.slice(this.#segments.length));
    if (match === null) return undefined;
    const session = match[1] ?? '';
    const index = Number(match[3]);
    return match[2] === 'm' ? { kind: 'manifest', session, index } : { kind: 'segment', session, index };
  }

  /** The marker saying `session` holds resumable data for `path`. */
  marker(path: string, session: string): string {
    return `${this.#sessions}${path}/${session}`;
  }

  /** Listing prefix of the markers of `path` itself (list with delimiter `/`). */
  markers(path: string): string {
    return path === '/' ? `${this.#sessions}/` : `${this.#sessions}${path}/`;
  }

  /** The session a marker names, when `name` is a marker of exactly `path` (or any, if omitted). */
  markerSession(name: string, path?: string): string | undefined {
    const slash = name.lastIndexOf('/');
    const session = name.slice(slash + 1);
    if (!SESSION_ID.test(session)) return undefined;
    if (path !== undefined && name.slice(0, slash + 1) !== this.markers(path)) return undefined;
    if (path === undefined && !name.startsWith(`${this.#sessions}/`)) return undefined;
    return session;
  }

  /** A new session id, later ones sorting after earlier ones. */
  static newSession(): string {
    return `${Date.now().toString(16).padStart(12, '0')}-${randomBytes(6).toString('hex')}`;
  }
}

function pad(index: number): string {
  return String(index).padStart(8, '0');
}
