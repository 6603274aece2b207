/**
 * One garbage collection at a time across every Berth node and CLI on a storage: a lease object
 * (`/docker/registry/v2/_gc/lease`, JSON {owner, host, pid, expiresAt}) with an expiry.
 *
 * Acquire: read the lease; if another owner holds it and it has not expired (and, on this host,
 * its process is still alive), fail with {@link LeaseBusyError}. Otherwise write ours, wait a
 * settle time, and read it back: if another node wrote after us we lost the race and fail too.
 * While held, the lease is renewed every ttl/3 (read back each time: a lease taken over after an
 * expiry is noticed), and the collector calls {@link GcLease.assertHeld} before every destructive
 * step, so a node that lost its lease stops deleting. A dead node's lease is taken over after its
 * expiry; a dead process on the same host at once. Expiry compares wall clocks: nodes must agree
 * within a fraction of the ttl (NTP).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageDriver } from '../../../storage-drivers/driver.js';
import { ROOT } from '../../core/paths.js';
import { deleteIfExists, getOrUndefined } from '../../core/storage-helpers.js';
import { isRecord, parseStoredJson } from '../../core/json.js';

export const LEASE_PATH = `${ROOT}/_gc/lease`;

export interface LeaseRecord {
  readonly owner: string;
  readonly host: string;
  readonly pid: number;
  readonly expiresAt: number;
}

export interface LeaseOptions {
  /** Lifetime of one write of the lease (default 60 s). */
  readonly ttlMs?: number;
  /** Wait between writing the lease and reading it back (default 1 s). */
  readonly settleMs?: number;
  readonly now?: () => number;
  /** Whether the holder process still runs (default: unknown for other hosts, a signal-0 probe on this one). */
  readonly isAlive?: (record: LeaseRecord) => boolean;
}

export class LeaseBusyError extends Error {
  override readonly name = 'LeaseBusyError';
  constructor(readonly holder: LeaseRecord | undefined) {
    super(holder === undefined ? 'another garbage collection took the lease' : `garbage collection lease held by ${holder.host} pid ${holder.pid} until ${new Date(holder.expiresAt).toISOString()}`);
  }
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor() {
    super('garbage collection lease lost (expired or taken over by another node): stopping');
  }
}

function parseLease(raw: Buffer | undefined): LeaseRecord | undefined {
  const v = parseStoredJson(raw);
  if (!isRecord(v)) return undefined;
  const { owner, host, pid, expiresAt } = v;
  if (typeof owner !== 'string' || typeof host !== 'string' || typeof pid !== 'number' || typeof expiresAt !== 'number') return undefined;
  return { owner, host, pid, expiresAt };
}

function defaultAlive(record: LeaseRecord): boolean {
  if (record.host !== hostname()) return true;
  try {
    process.kill(record.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class GcLease {
  readonly owner = randomUUID();
  private readonly ttlMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;
  private readonly isAlive: (record: LeaseRecord) => boolean;
  private expiresAt = 0;
  private lost = false;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly driver: StorageDriver,
    options: LeaseOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.settleMs = options.settleMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.isAlive = options.isAlive ?? defaultAlive;
  }

  /** The current holder, if any (expired leases included). */
  async read(): Promise<LeaseRecord | undefined> {
    return parseLease(await getOrUndefined(this.driver, LEASE_PATH));
  }

  async acquire(): Promise<void> {
    const current = await this.read();
    if (current !== undefined && current.owner !== this.owner && current.expiresAt > this.now() && this.isAlive(current)) {
      throw new LeaseBusyError(current);
    }
    await this.write();
    await sleep(this.settleMs);
    const after = await this.read();
    if (after?.owner !== this.owner) throw new LeaseBusyError(after);
    this.lost = false;
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => {
        this.renewing = undefined;
      });
    }, Math.max(50, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Throws LeaseLostError when the lease was lost or may have expired. */
  assertHeld(): void {
    if (this.lost || this.now() >= this.expiresAt - Math.min(5000, this.ttlMs / 10)) throw new LeaseLostError();
  }

  async release(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    if (this.lost) return;
    const current = await this.read();
    if (current?.owner === this.owner) await deleteIfExists(this.driver, LEASE_PATH);
  }

  private async write(): Promise<void> {
    const expiresAt = this.now() + this.ttlMs;
    const record: LeaseRecord = { owner: this.owner, host: hostname(), pid: process.pid, expiresAt };
    await this.driver.putContent(LEASE_PATH, Buffer.from(JSON.stringify(record)));
    this.expiresAt = expiresAt;
  }

  private async renew(): Promise<void> {
    if (this.lost) return;
    try {
      const current = await this.read();
      if (current?.owner !== this.owner) {
        this.lost = true;
        return;
      }
      await this.write();
    } catch {
      // A failed renewal is retried at the next tick; assertHeld stops the run if it keeps failing.
    }
  }
}
