/**
 * `berth serve --workers N` (config `berth.workers`): this process becomes a cluster primary that
 * forks N workers on one listening socket (node:cluster; Linux hands connections to workers round
 * robin). Every worker is a complete Berth (`serve`), so any worker can serve any request; an
 * upload whose chunks reach different workers is continued from storage (the live hash is per
 * process, the re-hash path covers the rest).
 *
 * A worker that dies is restarted after a backoff (250 ms, doubling per quick death up to 30 s;
 * reset once a worker has lived 30 s). If no worker ever managed to listen and they keep dying
 * (port taken, bad storage), the primary gives up and exits 1 instead of looping. SIGTERM/SIGINT:
 * no more restarts, every worker gets SIGTERM and drains its requests within
 * `http.draintimeout`; the primary exits 0 when all are gone, or kills the rest
 * {@link KILL_GRACE_MS} after the drain timeout.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';

export const FIRST_BACKOFF_MS = 250;
export const MAX_BACKOFF_MS = 30_000;
/** A worker that lived this long resets the backoff. */
export const STABLE_AFTER_MS = 30_000;
export const KILL_GRACE_MS = 5_000;
/** Environment variable telling a worker its number (1…N); also in its log lines as `worker`. */
export const WORKER_ID_ENV = 'BERTH_WORKER_ID';

export interface PrimaryOptions {
  readonly workers: number;
  readonly drainTimeoutMs: number;
  readonly logger: Logger;
}

interface Slot {
  readonly id: number;
  worker: Worker | undefined;
  startedAt: number;
  quickDeaths: number;
  timer: NodeJS.Timeout | undefined;
}

/** Runs the primary until it is told to stop; resolves with the exit code. */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  const slots: Slot[] = [];
  let everListened = false;
  let stopping = false;
  let exitCode = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = () => resolve(exitCode)));

  const alive = (): Worker[] => slots.flatMap((s) => (s.worker !== undefined ? [s.worker] : []));

  const stopAll = (reason: string, code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info({ reason }, 'stopping workers');
    for (const slot of slots) {
      if (slot.timer !== undefined) clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    const running = alive();
    if (running.length === 0) {
      finish();
      return;
    }
    for (const w of running) w.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const w of alive()) w.process.kill('SIGKILL');
      finish();
    }, options.drainTimeoutMs + KILL_GRACE_MS);
    killer.unref();
  };

  const fork = (slot: Slot): void => {
    slot.timer = undefined;
    const worker = cluster.fork({ [WORKER_ID_ENV]: String(slot.id) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    logger.info({ worker: slot.id, pid: worker.process.pid }, 'worker started');
    worker.once('listening', () => {
      everListened = true;
    });
    worker.once('exit', (code, signal) => {
      slot.worker = undefined;
      if (stopping) {
        if (alive().length === 0) finish();
        return;
      }
      const lived = Date.now() - slot.startedAt;
      slot.quickDeaths = lived >= STABLE_AFTER_MS ? 0 : slot.quickDeaths + 1;
      if (!everListened && slot.quickDeaths >= 3) {
        logger.error({ worker: slot.id, code, signal }, 'workers keep dying before listening; giving up');
        stopAll('worker failure', 1);
        return;
      }
      const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, slot.quickDeaths - 1));
      logger.warn({ worker: slot.id, pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting');
      slot.timer = setTimeout(() => fork(slot), delay);
    });
  };

  for (let id = 1; id <= options.workers; id++) {
    const slot: Slot = { id, worker: undefined, startedAt: 0, quickDeaths: 0, timer: undefined };
    slots.push(slot);
    fork(slot);
  }
  process.on('SIGTERM', () => stopAll('SIGTERM', 0));
  process.on('SIGINT', () => stopAll('SIGINT', 0));
  return done;
}
