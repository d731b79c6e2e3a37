import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Which test files are unit tests, by a rule rather than a list: a file is a unit test unless it, or a test helper
 * it imports (followed through relative imports), starts a gateway or reaches PostgreSQL: imports the harness's
 * gateways, the store backends, `src/main` or child processes. A new test that starts a gateway through the
 * harness therefore leaves the unit subset by itself.
 */
const STARTS_SOMETHING = [/test\/harness\/gateways\.ts$/, /test\/store\/backends\.ts$/, /test\/harness\/postgres\.ts$/, /src\/store\/postgres\.ts$/, /src\/main\.ts$/];
// Type-only imports start nothing.
const IMPORTS = /(?:import|export)(?!\s+type\b)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

function importsOf(file) {
  const imports = [];
  for (const match of readFileSync(file, 'utf8').matchAll(IMPORTS)) imports.push(match[1] ?? match[2]);
  return imports;
}

function startsSomething(file, seen = new Set()) {
  if (seen.has(file)) return false;
  seen.add(file);
  if (STARTS_SOMETHING.some((pattern) => pattern.test(file))) return true;
  return importsOf(file).some((specifier) => {
    if (specifier === 'node:child_process' || specifier === 'pg') return true;
    if (!specifier.startsWith('.')) return false;
    const target = path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts'));
    return (target.includes(`${path.sep}test${path.sep}`) || STARTS_SOMETHING.some((pattern) => pattern.test(target))) && startsSomething(target, seen);
  });
}

function testFiles(folder) {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** The test files under `folders`, split into those that start nothing (unit) and the others. */
export function splitTests(folders) {
  const files = folders.flatMap(testFiles);
  const integration = files.filter((file) => startsSomething(file));
  return { unit: files.filter((file) => !integration.includes(file)), integration };
}
