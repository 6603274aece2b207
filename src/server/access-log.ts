/**
 * The access log: pino-http, one line per request with method, path, status, duration and the
 * request id (X-Request-Id accepted from a proxy if well-formed, else generated). Levels: 5xx error,
 * 4xx info, others info; can be disabled (`log.accesslog.disabled`).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';

export type AccessLogger = (req: IncomingMessage, res: ServerResponse) => void;

export function createAccessLog(logger: Logger, enabled: boolean): AccessLogger {
  const genReqId = (req: IncomingMessage, res: ServerResponse): string => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    return id;
  };
  if (!enabled) {
    return (req, res) => {
      genReqId(req, res);
    };
  }
  const middleware = pinoHttp({
    logger,
    genReqId,
    customLogLevel: (_req, res, err) => (err !== undefined || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (req: { id: unknown; method: unknown; url: unknown; headers: Record<string, unknown> }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
        userAgent: req.headers['user-agent'],
      }),
      res: (res: { statusCode: unknown }) => ({ statusCode: res.statusCode }),
    },
  });
  return (req, res) => middleware(req, res);
}
