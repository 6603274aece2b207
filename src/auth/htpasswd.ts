/**
 * An htpasswd credential store (auth.md §3): `user:bcrypt-hash` lines, `$2a$`/`$2b$`/`$2y$` only.
 * Blank and `#` lines are skipped; a line without `:`, an empty user, a duplicate user or any other
 * hash kind is rejected with an error naming the line. A missing file at start is an error.
 *
 * The file is re-read when it changes (at most one `stat` per {@link HtpasswdOptions.statIntervalMs},
 * comparing mtime, size and inode); a bad file on reload keeps the previous users and is reported
 * through the injected logger (once per change of the file).
 *
 * `verify` costs one bcrypt compare, also for unknown users (against a dummy hash of the same
 * cost). Successes are cached under an HMAC of the credentials with a random per-process key (the
 * password is never stored), for a short TTL, bounded in size, and dropped when the file changes;
 * concurrent verifies of one credential share one compare. Failures are never cached.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { hash as bcryptHash, verify as bcryptVerify } from '@node-rs/bcrypt';

/** Default lifetime of a cached successful verification. */
export const DEFAULT_CACHE_TTL_MS = 60_000;
/** Default bound of the success cache. */
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
/** Default minimum interval between two stats of the file. */
export const DEFAULT_STAT_INTERVAL_MS = 1_000;

/** `$2a$`, `$2b$`, `$2y$`: cost, then 22 characters of salt and 31 of hash. */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** A problem with the htpasswd file; `line` is 1-based when one line is at fault. */
export class HtpasswdError extends Error {
  override readonly name = 'HtpasswdError';
  constructor(
    message: string,
    readonly path: string,
    readonly line?: number,
    options?: { cause?: unknown },
  ) {
    super(line === undefined ? `${path}: ${message}` : `${path}:${line}: ${message}`, options);
  }
}

/** The logger subset the store reports reload problems to (pino fits). */
export interface HtpasswdLogger {
  error(object: Record<string, unknown>, message: string): void;
  info?(object: Record<string, unknown>, message: string): void;
}

export interface HtpasswdOptions {
  readonly path: string;
  readonly logger?: HtpasswdLogger;
  readonly cacheTtlMs?: number;
  readonly cacheMaxEntries?: number;
  readonly statIntervalMs?: number;
  /** Clock in milliseconds (tests). */
  readonly now?: () => number;
  /** The bcrypt compare (tests count calls through it); default @node-rs/bcrypt's async verify. */
  readonly compare?: (password: string, hash: string) => Promise<boolean>;
}

/** Parses htpasswd text into user → bcrypt hash; throws HtpasswdError naming the bad line. */
export function parseHtpasswd(text: string, path = 'htpasswd'): Map<string, string> {
  const users = new Map<string, string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon === -1) throw new HtpasswdError('no ":" between user and hash', path, i + 1);
    const user = line.slice(0, colon).trim();
    const hash = line.slice(colon + 1).trim();
    if (user === '') throw new HtpasswdError('empty user name', path, i + 1);
    if (!BCRYPT.test(hash)) throw new HtpasswdError('not a bcrypt hash ($2a$, $2b$ or $2y$); use htpasswd -B', path, i + 1);
    if (users.has(user)) throw new HtpasswdError('duplicate user', path, i + 1);
    users.set(user, hash);
  }
  return users;
}

interface FileSignature {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

function sameSignature(a: FileSignature | undefined, b: FileSignature): boolean {
  return a !== undefined && a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

async function readSigned(path: string): Promise<{ signature: FileSignature; text: string }> {
  const before = await stat(path);
  const text = await readFile(path, 'utf8');
  return { signature: { mtimeMs: before.mtimeMs, size: before.size, ino: before.ino }, text };
}

export class HtpasswdStore {
  private users: Map<string, string>;
  /** Signature of the file content `users` came from, or of the last bad content reported. */
  private signature: FileSignature;
  private lastStat: number;
  private refreshing: Promise<void> | undefined;
  private generation = 0;
  private readonly hmacKey = randomBytes(32);
  /** HMAC of a verified credential → expiry (ms); Map order = insertion order (oldest first). */
  private readonly cache = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly dummyHashes = new Map<string, Promise<string>>();
  private readonly now: () => number;
  private readonly compare: (password: string, hash: string) => Promise<boolean>;
  private readonly ttl: number;
  private readonly maxEntries: number;
  private readonly statInterval: number;

  private constructor(
    private readonly options: HtpasswdOptions,
    users: Map<string, string>,
    signature: FileSignature,
  ) {
    this.users = users;
    this.signature = signature;
    this.now = options.now ?? Date.now;
    this.compare = options.compare ?? ((password, hash) => bcryptVerify(password, hash));
    this.ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
    this.maxEntries = options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
    this.statInterval = options.statIntervalMs ?? DEFAULT_STAT_INTERVAL_MS;
    this.lastStat = this.now();
  }

  /** Loads the file; throws HtpasswdError when it is missing, unreadable or invalid. */
  static async open(options: HtpasswdOptions): Promise<HtpasswdStore> {
    let loaded: { signature: FileSignature; text: string };
    try {
      loaded = await readSigned(options.path);
    } catch (error) {
      throw new HtpasswdError(`cannot read htpasswd file (${(error as NodeJS.ErrnoException).code ?? 'error'})`, options.path, undefined, { cause: error });
    }
    const store = new HtpasswdStore(options, parseHtpasswd(loaded.text, options.path), loaded.signature);
    await store.dummyHash();
    return store;
  }

  /** Number of users currently loaded. */
  get size(): number {
    return this.users.size;
  }

  /** Whether the (current) file has an entry for `user` (refresh tokens of removed users die). */
  async has(user: string): Promise<boolean> {
    await this.refresh();
    return this.users.has(user);
  }

  /** Whether `user:password` matches an entry of the (current) file. */
  async verify(user: string, password: string): Promise<boolean> {
    await this.refresh();
    const key = this.cacheKey(user, password);
    const expires = this.cache.get(key);
    if (expires !== undefined) {
      if (expires > this.now()) return true;
      this.cache.delete(key);
    }
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;
    const generation = this.generation;
    const check = this.check(user, password).then((ok) => {
      if (ok && generation === this.generation) this.remember(key);
      return ok;
    });
    this.inflight.set(key, check);
    try {
      return await check;
    } finally {
      this.inflight.delete(key);
    }
  }

  private async check(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    if (hash === undefined) {
      // Same cost as a real compare, so the answer time does not tell whether the user exists.
      await this.compare(password, await this.dummyHash());
      return false;
    }
    try {
      return await this.compare(password, hash);
    } catch {
      return false;
    }
  }

  private cacheKey(user: string, password: string): string {
    const userBytes = Buffer.from(user, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(userBytes.length);
    return createHmac('sha256', this.hmacKey).update(length).update(userBytes).update(password, 'utf8').digest('base64');
  }

  private remember(key: string): void {
    this.cache.delete(key);
    this.cache.set(key, this.now() + this.ttl);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  /** A hash of a random password with the cost most entries use (10 when the file is empty). */
  private dummyHash(): Promise<string> {
    const costs = new Map<string, number>();
    for (const h of this.users.values()) {
      const cost = h.slice(4, 6);
      costs.set(cost, (costs.get(cost) ?? 0) + 1);
    }
    const cost = [...costs.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '10';
    let dummy = this.dummyHashes.get(cost);
    if (dummy === undefined) {
      dummy = bcryptHash(randomBytes(18).toString('base64'), Number(cost));
      this.dummyHashes.set(cost, dummy);
    }
    return dummy;
  }

  /** Stats the file at most once per interval and reloads it when it changed. */
  private refresh(): Promise<void> {
    if (this.refreshing !== undefined) return this.refreshing;
    const now = this.now();
    if (now - this.lastStat < this.statInterval) return Promise.resolve();
    this.lastStat = now;
    this.refreshing = this.reload().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async reload(): Promise<void> {
    const { path, logger } = this.options;
    let current: FileSignature;
    try {
      const s = await stat(path);
      current = { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      const missing: FileSignature = { mtimeMs: -1, size: -1, ino: -1 };
      if (!sameSignature(this.signature, missing)) {
        logger?.error({ path, code }, 'htpasswd file unreadable; keeping the previous users');
        this.signature = missing;
      }
      return;
    }
    if (sameSignature(this.signature, current)) return;
    try {
      const loaded = await readSigned(path);
      const users = parseHtpasswd(loaded.text, path);
      this.users = users;
      this.signature = loaded.signature;
      this.generation++;
      this.cache.clear();
      await this.dummyHash();
      logger?.info?.({ path, users: users.size }, 'htpasswd file reloaded');
    } catch (error) {
      this.signature = current;
      const line = error instanceof HtpasswdError ? error.line : undefined;
      logger?.error({ path, line, reason: (error as Error).message }, 'htpasswd file invalid; keeping the previous users');
    }
  }
}
