/**
 * Test fixtures for token tests: hand-made JWTs with any header (including `alg: none` and HS256,
 * which no library would sign for us), and certificate chains made with the `openssl` CLI
 * (CA → intermediate → leaf) in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs `claims` with `header` (its `alg` decides how); `key` is a private key or an HMAC secret. */
export function makeJwt(header: Record<string, unknown>, claims: Record<string, unknown>, key?: KeyObject | Buffer): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const alg = String(header['alg']);
  let signature: Buffer;
  if (alg === 'none') signature = Buffer.alloc(0);
  else if (alg.startsWith('HS')) signature = createHmac(`sha${alg.slice(2)}`, key as Buffer).update(input).digest();
  else if (alg.startsWith('ES')) signature = cryptoSign(`sha${alg.slice(2)}`, Buffer.from(input), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  else if (alg.startsWith('PS')) signature = cryptoSign(`sha${alg.slice(2)}`, Buffer.from(input), { key: key as KeyObject, padding: 6, saltLength: 32 });
  else if (alg === 'EdDSA') signature = cryptoSign(null, Buffer.from(input), key as KeyObject);
  else signature = cryptoSign(`sha${alg.slice(2)}`, Buffer.from(input), key as KeyObject);
  return `${input}.${signature.toString('base64url')}`;
}

export interface Chain {
  readonly caPem: string;
  readonly intermediateDer: Buffer;
  readonly leafDer: Buffer;
  readonly leafKey: KeyObject;
}

function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** CA (CA:TRUE) → intermediate (CA:TRUE) → leaf (P-256), via openssl. */
export function makeChain(leafDays = 365): Chain {
  const dir = mkdtempSync(join(tmpdir(), 'berth-chain-'));
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  try {
    writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test ca', '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    run('req', ...ec, '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/CN=test intermediate');
    run('x509', '-req', '-in', 'int.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '2', '-out', 'int.crt', '-days', '3650', '-extfile', 'ca.ext');
    run('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=test leaf');
    run('x509', '-req', '-in', 'leaf.csr', '-CA', 'int.crt', '-CAkey', 'int.key', '-set_serial', '3', '-out', 'leaf.crt', '-days', String(leafDays));
    return {
      caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      intermediateDer: derOf(readFileSync(join(dir, 'int.crt'), 'utf8')),
      leafDer: derOf(readFileSync(join(dir, 'leaf.crt'), 'utf8')),
      leafKey: createPrivateKey(readFileSync(join(dir, 'leaf.key'))),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
