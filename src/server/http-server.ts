/**
 * The HTTP(S) listener around the app: TLS when configured, header/idle timeouts, keep-alive, and
 * graceful shutdown (stop accepting, let in-flight requests finish up to `http.draintimeout`).
 */
import { readFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Config } from '../config/schema.js';

export interface RunningServer {
  readonly server: Server;
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

export async function listen(config: Config, handle: RequestListener): Promise<RunningServer> {
  const tls = config.http.tls;
  const server: Server =
    tls === undefined
      ? createServer({ requestTimeout: 0 }, handle)
      : createTlsServer({ cert: readFileSync(tls.certificate), key: readFileSync(tls.key), requestTimeout: 0 }, handle);
  server.headersTimeout = config.berth.headersTimeoutMs;
  server.keepAliveTimeout = 75_000;
  // An idle socket (no bytes either way) is closed; a slow but moving upload is not.
  server.timeout = config.berth.idleTimeoutMs;
  server.on('timeout', (socket: Socket) => socket.destroy());
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const address = typeof addr === 'object' && addr !== null ? { host: addr.address, port: addr.port } : { host: config.http.host, port: config.http.port };
  return {
    server,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, config.http.drainTimeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
