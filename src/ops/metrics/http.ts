/**
 * Per-request HTTP metrics: `track(req, res, path)` classifies the route, and when the response
 * closes counts the request (route, method, status), observes its duration and adds the bytes the
 * connection carried for it. Bytes are taken from the socket's counters (headers included, no
 * stream listeners): each request is charged what the connection read and wrote since the
 * previous request on it ended, so the totals add up to the bytes on the wire. Label children are
 * built once per (route, method, status) and reused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { BerthMetrics } from './metrics.js';
import { classifyRoute, ROUTES, type Route } from './routes.js';

const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);

interface Inc {
  inc(value?: number): void;
}
interface Observe {
  observe(value: number): void;
}

interface MethodCells {
  readonly duration: Observe;
  readonly statuses: Map<number, Inc>;
}

interface RouteCells {
  readonly received: Inc;
  readonly sent: Inc;
  readonly methods: Map<string, MethodCells>;
}

/** What the socket had read and written when its previous request ended. */
const MARK = Symbol('berth.metrics.bytes');
type MarkedSocket = Socket & { [MARK]?: { read: number; written: number } };

export interface HttpMetrics {
  /** Call once per request, as early as possible; `path` is without query and prefix. */
  track(req: IncomingMessage, res: ServerResponse, path: string): void;
}

function isUploadData(route: Route, req: IncomingMessage): boolean {
  if (route !== 'blob_upload') return false;
  const m = req.method;
  if (m === 'PATCH' || m === 'PUT') return true;
  if (m !== 'POST') return false;
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

export function createHttpMetrics(metrics: BerthMetrics, metricsPath = '/metrics'): HttpMetrics {
  const routes = new Map<Route, RouteCells>();
  for (const route of ROUTES) {
    routes.set(route, { received: metrics.receivedBytes.labels(route), sent: metrics.sentBytes.labels(route), methods: new Map() });
  }
  const methodCells = (route: Route, cells: RouteCells, method: string): MethodCells => {
    let found = cells.methods.get(method);
    if (found === undefined) {
      found = { duration: metrics.requestDuration.labels(route, method), statuses: new Map() };
      cells.methods.set(method, found);
    }
    return found;
  };
  const statusCell = (route: Route, method: string, cells: MethodCells, status: number): Inc => {
    let found = cells.statuses.get(status);
    if (found === undefined) {
      found = metrics.requests.labels(route, method, String(status));
      cells.statuses.set(status, found);
    }
    return found;
  };
  const uploads = metrics.uploadsInProgress;

  return {
    track(req, res, path) {
      const started = performance.now();
      const route = classifyRoute(path, metricsPath);
      const upload = isUploadData(route, req);
      if (upload) uploads.inc();
      res.once('close', () => {
        if (upload) uploads.dec();
        const cells = routes.get(route);
        if (cells === undefined) return;
        const method = METHODS.has(req.method ?? '') ? (req.method as string) : 'other';
        const byMethod = methodCells(route, cells, method);
        byMethod.duration.observe((performance.now() - started) / 1000);
        statusCell(route, method, byMethod, res.statusCode).inc();
        const socket = req.socket as MarkedSocket | null;
        if (socket === null) return;
        const read = socket.bytesRead;
        const written = socket.bytesWritten;
        const mark = socket[MARK];
        cells.received.inc(read - (mark?.read ?? 0));
        cells.sent.inc(written - (mark?.written ?? 0));
        if (mark === undefined) socket[MARK] = { read, written };
        else {
          mark.read = read;
          mark.written = written;
        }
      });
    },
  };
}
