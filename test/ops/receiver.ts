/**
 * Test helper: a real local webhook receiver. Records every POST (headers, parsed body, the
 * status it answered) and answers each with what `answer(n)` says for the n-th POST (1-based):
 * a status code, or 'hang' (accept and never answer).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedEvent {
  readonly id: string;
  readonly timestamp: string;
  readonly action: string;
  readonly target: Record<string, unknown>;
  readonly request: Record<string, unknown>;
  readonly actor: Record<string, unknown>;
  readonly source: Record<string, unknown>;
}

export interface Post {
  readonly headers: IncomingHttpHeaders;
  readonly events: ReceivedEvent[];
  readonly status: number | 'hang';
}

export interface Receiver {
  readonly url: string;
  readonly posts: Post[];
  /** Events of the POSTs answered 2xx, in arrival order (duplicates kept). */
  delivered(): ReceivedEvent[];
  close(): Promise<void>;
}

export async function startReceiver(answer: (n: number) => number | 'hang' = () => 200): Promise<Receiver> {
  const posts: Post[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = answer(posts.length + 1);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: ReceivedEvent[] };
      posts.push({ headers: req.headers, events: body.events, status });
      if (status === 'hang') return;
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    posts,
    delivered: () => posts.filter((p) => typeof p.status === 'number' && p.status < 300).flatMap((p) => p.events),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
