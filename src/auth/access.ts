/**
 * Access requests and the access-control contract every endpoint goes through. An
 * {@link AccessController} decides whether a request may perform a set of actions on resources
 * (`repository:<name>:pull,push`, `registry:catalog:*`); it returns the principal or throws
 * UNAUTHORIZED (with a challenge) / DENIED. One controller guards v2, v1 and the SmartOS endpoints.
 */
import type { IncomingMessage } from 'node:http';

export type Action = 'pull' | 'push' | 'delete' | '*';

export interface Access {
  readonly type: 'repository' | 'registry';
  readonly name: string;
  readonly actions: readonly Action[];
}

export interface Principal {
  /** Empty for anonymous. */
  readonly subject: string;
}

export interface AccessController {
  /** Resolves with the principal, or throws RegistryError UNAUTHORIZED/DENIED. */
  authorize(req: IncomingMessage, required: readonly Access[]): Promise<Principal>;
  /**
   * Who the caller is, requiring nothing: anonymous without credentials, the user for valid ones;
   * throws UNAUTHORIZED for bad credentials (for reads whose repository is found later, e.g. v1
   * image paths and the IMGAPI list, which then filter with canPull).
   */
  identify(req: IncomingMessage): Promise<Principal>;
  /** Whether the principal may read a repository (used to filter the catalog and cross-mounts). */
  canPull(principal: Principal, name: string): Promise<boolean>;
  /** A v1 session token (`X-Docker-Token`) for the principal, or undefined when auth is off. */
  v1Token?(principal: Principal, repository: string, access: 'read' | 'write' | 'delete'): string | undefined;
  /**
   * Whether an already identified principal (e.g. a web-UI session) may perform every required
   * action; the same policy `authorize` applies. Absent: only what `canPull` says is known.
   */
  allows?(principal: Principal, required: readonly Access[]): Promise<boolean>;
  /**
   * Checks a user name and password against the registry's credential store (the web UI's
   * sign-in), throttled and counted like Basic credentials: the principal, or undefined for wrong
   * credentials; throws TOOMANYREQUESTS when over the failed-login budget. Absent when the
   * registry has no password store (no auth, or an external token server).
   */
  signIn?(req: IncomingMessage, user: string, password: string): Promise<Principal | undefined>;
  /** Whether the user still exists in the credential store (a session of a removed user ends). */
  knows?(subject: string): Promise<boolean>;
}

/** Allows everything (no `auth` section configured). */
export const anonymousAccess: AccessController = {
  authorize: () => Promise.resolve({ subject: '' }),
  identify: () => Promise.resolve({ subject: '' }),
  canPull: () => Promise.resolve(true),
  allows: () => Promise.resolve(true),
};

export function formatAccess(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}
