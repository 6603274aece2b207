/**
 * distribution's debug listener (`http.debug.addr`): a second, plain-HTTP server for operators.
 * Serves `GET /debug/health` (`200 {}`, or `503 {"storagedriver_<driver>": "<error>"}` while the
 * background storage check fails) and, with `http.debug.prometheus.enabled`, the Prometheus
 * metrics at `http.debug.prometheus.path`. Everything else is 404.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { StorageHealth } from '../ops/health-check.js';

export interface DebugServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics?: { readonly register: MetricsRegistry; readonly path: string };
  readonly health?: StorageHealth;
}

export interface DebugServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

export async function startDebugServer(options: DebugServerOptions): Promise<DebugServer> {
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 404, 'text/plain', 'not found\n');
    if (options.metrics !== undefined && path === options.metrics.path) {
      const { register } = options.metrics;
      register.metrics().then(
        (text) => send(res, 200, register.contentType, text),
        () => send(res, 500, 'text/plain', 'metrics collection failed\n'),
      );
      return;
    }
    if (path === '/debug/health') {
      const state = options.health?.state();
      if (state === undefined || state.healthy) return send(res, 200, 'application/json', '{}');
      return send(res, 503, 'application/json', JSON.stringify({ [state.check]: state.error ?? 'Error' }));
    }
    send(res, 404, 'text/plain', 'not found\n');
  };
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const address = typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host: options.host, port: options.port };
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
