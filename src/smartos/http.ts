/**
 * HTTP details shared by the SmartOS translation route and the IMGAPI routes: JSON replies with the
 * exact `Content-Type` imgadm compares, the first value of a query parameter, and path-segment
 * decoding that rejects malformed percent-encoding.
 */
import type { Request, Response } from 'express';
import { RegistryError } from '../errors/registry-error.js';

/** JSON with `Content-Type: application/json` exactly (imgadm's ping compares it), never compressed. */
export function sendJson(req: Request, res: Response, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', payload.length);
  res.end(req.method === 'HEAD' ? undefined : payload);
}

export function firstQuery(req: Request, key: string): string | undefined {
  const value: unknown = req.query[key];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('NAME_INVALID', { message: 'malformed percent-encoding in path' });
  }
}
