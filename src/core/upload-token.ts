/**
 * Signed upload state: with `http.secret` set, every upload URL carries `_state`, an HMAC over the
 * repository and upload id, so a node only accepts upload URLs that some node of the same
 * deployment issued. Without a secret, uploads are identified by their id in storage alone.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class UploadTokens {
  constructor(private readonly secret: string | undefined) {}

  get enabled(): boolean {
    return this.secret !== undefined;
  }

  sign(name: string, id: string): string | undefined {
    if (this.secret === undefined) return undefined;
    return createHmac('sha256', this.secret).update(`${name}\n${id}`).digest('base64url');
  }

  verify(name: string, id: string, state: string | undefined): boolean {
    const expected = this.sign(name, id);
    if (expected === undefined) return true;
    if (state === undefined) return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(state);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
