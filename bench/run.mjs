// `npm run bench`: every benchmark of the repository, one after the other (they would disturb each other in
// parallel on a 2-core machine). Each prints its figures beside a reference measured in the same run.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);
const scripts = [join(root, 'bench/format.mjs')];
for (const pkg of ['agent', 'policy-server']) {
  const dir = join(root, pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir).sort()) if (name.endsWith('.mjs') && !name.startsWith('_')) scripts.push(join(dir, name));
}
let failed = 0;
for (const script of scripts) {
  if (only.length > 0 && !only.some((o) => script.includes(o))) continue;
  console.log(`\n=== ${script.slice(root.length)} ===`);
  const result = spawnSync(process.execPath, [script], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
