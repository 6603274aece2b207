/**
 * The HTTP(S) listener around the app: TLS when configured (options in tls-options.ts; the
 * certificate, key and client CAs are re-read by `reloadTls`, which new connections use while
 * open ones keep theirs), header/idle timeouts, keep-alive, and graceful shutdown (stop
 * accepting, let in-flight requests finish up to `http.draintimeout`).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Config } from '../config/schema.js';
import { secureContextOptions, tlsServerOptions } from './tls-options.js';

export interface RunningServer {
  readonly server: Server;
  readonly address: { host: string; port: number };
  close(): Promise<void>;
  /**
   * Re-reads the TLS certificate, key and client CAs for new connections (no-op without TLS).
   * Throws, keeping the current ones, when a file is unreadable or invalid.
   */
  reloadTls(): void;
}

export async function listen(config: Config, handle: RequestListener): Promise<RunningServer> {
  const tls = config.http.tls;
  const tlsServer: TlsServer | undefined = tls === undefined ? undefined : createTlsServer({ ...tlsServerOptions(tls), requestTimeout: 0 }, handle);
  const server: Server = tlsServer ?? createServer({ requestTimeout: 0 }, handle);
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
    reloadTls: () => {
      if (tls === undefined || tlsServer === undefined) return;
      const options = secureContextOptions(tls);
      createSecureContext(options); // throws on a bad certificate, key or CA before anything changes
      tlsServer.setSecureContext(options);
    },
  };
}
