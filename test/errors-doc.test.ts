/**
 * Keeps README's error-code table and `src/errors/codes.ts` in sync (fastify's habit): every code
 * in the table appears in README with its status, and README lists no code the table lacks.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/errors/codes.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

test('README error table matches src/errors/codes.ts', async () => {
  const text = await readFile(README, 'utf8');
  const section = text.split('## Error codes')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, number>();
  for (const m of section.matchAll(/^\| `([A-Z0-9_]+)` \| (\d{3}) \|/gm)) rows.set(m[1] ?? '', Number(m[2]));
  for (const [code, d] of Object.entries(ERROR_CODES)) {
    assert.equal(rows.get(code), d.status, `README row for ${code} (status ${d.status})`);
  }
  for (const code of rows.keys()) assert.ok(code in ERROR_CODES, `README lists ${code}, which codes.ts does not define`);
});
