/**
 * Operations on a whole store, run beside or instead of the server: garbage collection (offline
 * CLI and the online loop, one at a time across nodes through a lease in storage), scrub
 * (integrity check and repair) and repository deletion (core function, CLI and an HTTP router).
 * Everything works through the storage driver contract only, so every driver and any number of
 * Berth nodes on one storage are covered. The storage layout is src/core/paths.ts's and
 * src/core/v1/paths.ts's; this room adds only the GC lease (`/docker/registry/v2/_gc/lease`).
 */
export { garbageCollect, type GcOptions, type GcReport, type GcProgress } from './gc/run.js';
export { startOnlineGc, type OnlineGc, type OnlineGcDeps } from './gc/online.js';
export { GcLease, LeaseBusyError, type LeaseOptions } from './gc/lease.js';
export { scrub, type ScrubOptions, type ScrubReport, type ScrubIssue } from './scrub.js';
export { deleteRepository, type DeleteRepositoryOptions } from './delete-repository.js';
export { createOpsRouter, type OpsRouterDeps } from './api.js';
