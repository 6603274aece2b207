/**
 * The audit trail: one log line per change to the registry's content — a manifest push, a tag
 * set or moved, a delete — naming who (principal, `anonymous` when none), what (action,
 * repository, reference, digest) and from where (the client address, through trusted proxies
 * only). Never credentials: the principal is the user name the access controller resolved.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from './access.js';
import type { ClientAddress } from './client-address.js';

export type AuditAction = 'push' | 'tag' | 'delete' | 'untag';

export interface AuditEvent {
  readonly action: AuditAction;
  readonly repository: string;
  readonly reference?: string;
  readonly digest?: string;
  /** Which API the change came through (v2, v1, the web UI). */
  readonly api: 'v2' | 'v1' | 'berth' | 'ui';
}

export type Audit = (req: IncomingMessage, principal: Principal, event: AuditEvent) => void;

export function createAudit(logger: Logger, clientAddress: ClientAddress): Audit {
  const log = logger.child({ audit: true });
  return (req, principal, event) => {
    log.info(
      {
        principal: principal.subject === '' ? 'anonymous' : principal.subject,
        ...event,
        client: clientAddress(req),
        requestId: req.headers['x-request-id'] ?? undefined,
      },
      `audit ${event.action}`,
    );
  };
}
