#!/usr/bin/env node
// Install step: compiles the addon with node-gyp against Node's own headers (which include OpenSSL's).
// A machine without a compiler still installs: the agent then uses node:crypto, and this says so. Set
// EXITSEAL_REQUIRE_NATIVE=1 (CI does) to make a failed build fail the install instead.
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
// npm tells lifecycle scripts where its bundled node-gyp is; outside npm, use the one on PATH.
const nodeGyp = process.env.npm_config_node_gyp;
const command = nodeGyp ? process.execPath : 'node-gyp';
const args = nodeGyp ? [nodeGyp, 'rebuild'] : ['rebuild'];
const result = spawnSync(command, args, { cwd: packageDir, stdio: 'inherit', shell: process.platform === 'win32' && !nodeGyp });

if (result.status !== 0) {
  const why = result.error ? result.error.message : `node-gyp exited with ${result.status ?? result.signal}`;
  if (process.env.EXITSEAL_REQUIRE_NATIVE === '1') {
    console.error(`@exitseal/native: build failed (${why}) and EXITSEAL_REQUIRE_NATIVE=1`);
    process.exit(1);
  }
  console.warn(`@exitseal/native: not built (${why}). ExitSeal will seal and open with node:crypto: same files, about 1.5x slower on large ones.`);
}
