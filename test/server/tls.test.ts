/**
 * TLS: with `http.tls.certificate` and `http.tls.key`, Berth serves HTTPS (a self-signed
 * certificate made with openssl for the test).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startBerth } from '../helpers/berth-process.js';

const run = promisify(execFile);

test('serves HTTPS with the configured certificate', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  const berth = await startBerth({ config: { http: { tls: { certificate: cert, key } } }, tls: true });
  try {
    const ca = await readFile(cert);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: berth.port, path: '/v2/', ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
  } finally {
    await berth.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
