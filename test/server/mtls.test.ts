/**
 * Mutual TLS and TLS settings against a real Berth process: `http.tls.clientcas` refuses clients
 * without a certificate or with one from another CA at the handshake and serves the right one;
 * `minimumtls: tls1.3` refuses a TLS 1.2-only client; `ciphersuites` limits the TLS 1.2 suites;
 * SIGHUP re-reads the certificate (the served fingerprint changes) without dropping an open
 * connection, and a bad file on reload is logged and the old certificate kept. Certificates are
 * made with the openssl CLI in a temp dir.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { startBerth, type BerthProcess } from '../helpers/berth-process.js';

const run = promisify(execFile);

interface Pair {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certPath: string;
  readonly keyPath: string;
}

let dir = '';

async function makeCa(name: string): Promise<Pair> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', `/CN=${name}`]);
  return { cert: await readFile(certPath), key: await readFile(keyPath), certPath, keyPath };
}

async function makeLeaf(name: string, ca: Pair, usage: 'serverAuth' | 'clientAuth'): Promise<Pair> {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, `extendedKeyUsage=${usage}\n${usage === 'serverAuth' ? 'subjectAltName=IP:127.0.0.1\n' : ''}`);
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', csr, '-subj', `/CN=${name}`]);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', String(Date.now()), '-days', '1', '-extfile', ext, '-out', certPath]);
  return { cert: await readFile(certPath), key: await readFile(keyPath), certPath, keyPath };
}

/** GET /v2/ over HTTPS; resolves with the status or rejects with the connection error. */
function get(port: number, options: RequestOptions = {}): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', timeout: 5000, ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Completes a TLS handshake and returns the server certificate's SHA-256 fingerprint and protocol. */
function handshake(port: number, options: ConnectionOptions = {}): Promise<{ fingerprint: string; protocol: string; cipher: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const result = { fingerprint: socket.getPeerCertificate().fingerprint256, protocol: socket.getProtocol() ?? '', cipher: socket.getCipher().name };
      socket.end();
      resolve(result);
    });
    socket.on('error', reject);
  });
}

async function fingerprintOf(pem: Buffer): Promise<string> {
  return new X509Certificate(pem).fingerprint256;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let ca: Pair;
let otherCa: Pair;
let server1: Pair;
let server2: Pair;
let client: Pair;
let rogue: Pair;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-mtls-'));
  ca = await makeCa('ca');
  otherCa = await makeCa('other-ca');
  server1 = await makeLeaf('server1', ca, 'serverAuth');
  server2 = await makeLeaf('server2', ca, 'serverAuth');
  client = await makeLeaf('client', ca, 'clientAuth');
  rogue = await makeLeaf('rogue', otherCa, 'clientAuth');
});

after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('mutual TLS with http.tls.clientcas', () => {
  let berth: BerthProcess;
  let certPath = '';
  let keyPath = '';
  before(async () => {
    // The served certificate lives in files the test replaces before SIGHUP.
    certPath = join(dir, 'served.pem');
    keyPath = join(dir, 'served.key');
    await copyFile(server1.certPath, certPath);
    await copyFile(server1.keyPath, keyPath);
    berth = await startBerth({
      config: { log: { level: 'info' }, http: { tls: { certificate: certPath, key: keyPath, clientcas: [ca.certPath] } } },
      tls: true,
      tlsClient: { cert: client.cert, key: client.key },
    });
  });
  after(async () => berth?.stop());

  test('a client certificate from the configured CA is served', async () => {
    const { status } = await get(berth.port, { ca: ca.cert, cert: client.cert, key: client.key });
    assert.equal(status, 200);
  });

  test('a client without a certificate is refused at the handshake', async () => {
    await assert.rejects(get(berth.port, { ca: ca.cert }), (error: NodeJS.ErrnoException) => {
      assert.match(String(error.code ?? error.message), /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE|HANDSHAKE/i);
      return true;
    });
  });

  test('a client certificate from another CA is refused at the handshake', async () => {
    await assert.rejects(get(berth.port, { ca: ca.cert, cert: rogue.cert, key: rogue.key }), (error: NodeJS.ErrnoException) => {
      assert.match(String(error.code ?? error.message), /UNKNOWN_CA|BAD_CERTIFICATE|ECONNRESET|EPIPE|HANDSHAKE/i);
      return true;
    });
    // Also over TLS 1.2, where the refusal happens before the handshake completes.
    await assert.rejects(handshake(berth.port, { cert: rogue.cert, key: rogue.key, maxVersion: 'TLSv1.2' }));
    await assert.rejects(handshake(berth.port, { maxVersion: 'TLSv1.2' }));
  });

  test('SIGHUP serves a new certificate without dropping open connections; a bad file keeps the old one', async () => {
    const clientOptions = { cert: client.cert, key: client.key };
    const first = await handshake(berth.port, clientOptions);
    assert.equal(first.fingerprint, await fingerprintOf(server1.cert));
    // One kept-alive connection, opened before the reload.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      assert.deepEqual(await get(berth.port, { agent, ca: ca.cert, ...clientOptions }), { status: 200, reused: false });
      await copyFile(server2.keyPath, keyPath);
      await copyFile(server2.certPath, certPath);
      process.kill(berth.pid, 'SIGHUP');
      const fingerprint2 = await fingerprintOf(server2.cert);
      await until(async () => (await handshake(berth.port, clientOptions)).fingerprint === fingerprint2, 'the new certificate');
      await until(async () => berth.output().includes('TLS certificate reloaded'), 'the reload in the log');
      // The connection opened before the reload still serves requests.
      assert.deepEqual(await get(berth.port, { agent, ca: ca.cert, ...clientOptions }), { status: 200, reused: true });
    } finally {
      agent.destroy();
    }
    // A broken certificate file: the reload fails, is logged, and the current certificate stays.
    await writeFile(certPath, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    process.kill(berth.pid, 'SIGHUP');
    await until(async () => berth.output().includes('TLS reload failed'), 'the reload error in the log');
    assert.equal((await handshake(berth.port, clientOptions)).fingerprint, await fingerprintOf(server2.cert));
    assert.equal((await get(berth.port, { ca: ca.cert, ...clientOptions })).status, 200);
    // A key that does not match the certificate is refused as well.
    await copyFile(server1.certPath, certPath);
    await copyFile(server2.keyPath, keyPath);
    const failures = (berth.output().match(/TLS reload failed/g) ?? []).length;
    process.kill(berth.pid, 'SIGHUP');
    await until(async () => (berth.output().match(/TLS reload failed/g) ?? []).length > failures, 'the second reload error');
    assert.equal((await handshake(berth.port, clientOptions)).fingerprint, await fingerprintOf(server2.cert));
    assert.doesNotMatch(berth.output(), /BEGIN (EC )?PRIVATE KEY/);
  });
});

describe('TLS versions and cipher suites', () => {
  test('minimumtls tls1.3 refuses a TLS 1.2-only client', async () => {
    const berth = await startBerth({ config: { http: { tls: { certificate: server1.certPath, key: server1.keyPath, minimumtls: 'tls1.3' } } }, tls: true });
    try {
      await assert.rejects(handshake(berth.port, { maxVersion: 'TLSv1.2' }));
      assert.equal((await handshake(berth.port)).protocol, 'TLSv1.3');
      assert.equal((await get(berth.port, { ca: ca.cert })).status, 200);
    } finally {
      await berth.stop();
    }
  });

  test('the default minimum is TLS 1.2 and ciphersuites limits the TLS 1.2 suites', async () => {
    const berth = await startBerth({
      config: { http: { tls: { certificate: server1.certPath, key: server1.keyPath, ciphersuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'] } } },
      tls: true,
    });
    try {
      await assert.rejects(handshake(berth.port, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }));
      const tls12 = await handshake(berth.port, { maxVersion: 'TLSv1.2' });
      assert.deepEqual([tls12.protocol, tls12.cipher], ['TLSv1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
      await assert.rejects(handshake(berth.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' }));
      // A TLS 1.2-only list keeps TLS 1.3 on with its default suites.
      assert.equal((await handshake(berth.port)).protocol, 'TLSv1.3');
    } finally {
      await berth.stop();
    }
  });

  test('an unreadable client CA file stops the start with an error naming the key', async () => {
    await assert.rejects(
      startBerth({ config: { http: { tls: { certificate: server1.certPath, key: server1.keyPath, clientcas: [join(dir, 'missing.pem')] } } }, tls: true }),
      /http\.tls\.clientcas: cannot read .*missing\.pem \(ENOENT\)/,
    );
  });
});
