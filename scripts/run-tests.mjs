#!/usr/bin/env node
// Runs every compiled test file (`*.test.js` under a package's dist/) with Node's test runner, which
// prints the closing summary (tests, pass, fail, skipped). Build first: `npm test` does.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = ['core', 'agent', 'policy-server', 'tray-app', 'installer', 'test'];
const filter = process.argv.slice(2);

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
}

const files = [];
for (const pkg of packages) collect(join(root, pkg, 'dist'), files);
const selected = files.filter((f) => filter.length === 0 || filter.some((needle) => relative(root, f).includes(needle))).sort();
if (selected.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=900000', ...selected],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
