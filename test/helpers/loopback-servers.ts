/**
 * Test servers on 127.0.0.1 that a test file starts and must stop: `listen` starts one on a free
 * port and keeps track of it and of its open connections; `closeAll` (for `after`) destroys the
 * connections and closes every server, so a server left mid-answer (silent, stalled) never keeps
 * the test process alive.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server, Socket } from 'node:net';

export class LoopbackServers {
  readonly servers: Array<Server | HttpServer> = [];
  readonly #sockets = new Set<Socket>();

  /** Starts `server` on a free loopback port and resolves with the port. */
  listen(server: Server | HttpServer): Promise<number> {
    this.servers.push(server);
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    return new Promise((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  }

  async closeAll(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all(this.servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
