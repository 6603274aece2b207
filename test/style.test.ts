/**
 * Enforces the project's code standards on every TypeScript file: a module comment at the top,
 * no `any` types, no `@ts-ignore`, no default exports, `node:` prefixes on built-in imports.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIRS = ['src', 'storage-drivers', 'test', 'bench'];
const BUILTINS = ['fs', 'fs/promises', 'path', 'http', 'https', 'crypto', 'stream', 'stream/promises', 'os', 'url', 'net', 'tls', 'zlib', 'child_process', 'util', 'events', 'buffer', 'timers/promises', 'test', 'assert', 'assert/strict'];

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

test('every TypeScript file follows the code standards', async () => {
  const problems: string[] = [];
  for (const dir of DIRS) {
    for (const file of await tsFiles(join(ROOT, dir))) {
      const rel = relative(ROOT, file);
      if (rel === 'test/style.test.ts') continue; // its own patterns would match
      const text = await readFile(file, 'utf8');
      const body = text.replace(/^#!.*\n/, '');
      if (!body.startsWith('/**') && !body.startsWith('//')) problems.push(`${rel}: no module comment at the top`);
      const code = body.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '').replace(/(['"`])(?:\\.|(?!\1)[^\\\n])*\1/g, '""');
      if (/(:\s*any\b|\bas any\b|<any>|any\[\])/.test(code)) problems.push(`${rel}: uses the any type`);
      if (text.includes('@ts-ignore') || text.includes('@ts-nocheck')) problems.push(`${rel}: @ts-ignore/@ts-nocheck`);
      if (/^export default /m.test(code)) problems.push(`${rel}: default export`);
      for (const m of text.matchAll(/from '([^'.][^']*)'/g)) {
        if (BUILTINS.includes(m[1] ?? '')) problems.push(`${rel}: import '${m[1]}' without the node: prefix`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
