/**
 * THE single place where a thrown error becomes an HTTP response. v2 paths get the distribution
 * JSON envelope `{"errors":[{code,message,detail}]}`; other paths a small JSON `{"error": ...}`
 * (`plain` adds the code; `v1` is exactly the legacy registry's `{"error": "<message>"}`, which
 * docker 1.x string-matches).
 * Unknown errors become 500 UNKNOWN without internals. Log level policy: 5xx at error (with the
 * stack), 4xx at debug, client aborts at info. A failure after the headers were sent can only cut
 * the connection.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RegistryError } from '../errors/registry-error.js';
import { isClientAbort, toRegistryError } from '../errors/translate.js';

export type ErrorStyle = 'v2' | 'plain' | 'v1';

export function sendError(req: IncomingMessage, res: ServerResponse, error: unknown, logger: Logger, style: ErrorStyle): void {
  const aborted = isClientAbort(error) || req.destroyed || res.destroyed;
  const err = toRegistryError(error);
  if (aborted && !(error instanceof RegistryError)) {
    logger.info({ method: req.method, url: req.url, err: error }, 'client went away');
    if (!res.destroyed) res.destroy();
    return;
  }
  if (err.status >= 500) logger.error({ method: req.method, url: req.url, err: err.cause ?? err, code: err.code }, 'request failed');
  else logger.debug({ method: req.method, url: req.url, code: err.code, msg: err.message }, 'request rejected');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body =
    style === 'v2'
      ? { errors: [{ code: err.code, message: err.message, ...(err.detail !== undefined ? { detail: err.detail } : {}) }] }
      : style === 'v1'
        ? { error: err.message }
        : { error: err.message, code: err.code };
  const payload = Buffer.from(JSON.stringify(body));
  res.statusCode = err.status;
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', payload.length);
  // An unread request body (e.g. a rejected upload) must not be left pending on a kept-alive socket.
  if (!req.complete) res.setHeader('Connection', 'close');
  res.end(req.method === 'HEAD' ? undefined : payload);
  if (!req.complete) req.resume();
}
