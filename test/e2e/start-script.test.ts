// `npm start` (scripts/start.mjs) as a newcomer runs it: server + enrolled agent, a file dropped into the
// demo outbound folder gets sealed and its export shows up, Ctrl-C stops everything cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from './support/policy-server-process.js';
import { startsSealed, waitUntil } from './support/stick-files.js';

const START = new URL('../../../scripts/start.mjs', import.meta.url).pathname;

test('npm start: the demo server and agent run, a file dropped into the outbound folder is sealed and logged, Ctrl-C stops both', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'exitseal-start-'));
  const child = spawn(process.execPath, [START, '--data', dir, '--port', String(await freePort())], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitUntil('the banner', () => output.includes('Ctrl-C stops both.') || child.exitCode !== null, 120_000);
    assert.match(output, /Policy server\s+https:\/\/127\.0\.0\.1:\d+/, output);
    const outbound = /Outbound folder\s+(\S+)/.exec(output)?.[1] ?? '';
    assert.equal(outbound, join(dir, 'outbound'));
    await writeFile(join(outbound, 'hello.txt'), 'hello from a newcomer');
    await waitUntil('the export line', () => output.includes('[export] sealed hello.txt (outboundFolders, zone lgwan'), 60_000);
    assert.ok(await startsSealed(join(outbound, 'hello.txt')), 'sealed in place, same name');
    assert.ok(!(await readFile(join(outbound, 'hello.txt'), 'latin1')).includes('hello from a newcomer'));
    child.kill('SIGINT');
    assert.equal(await exited, 0, output);
    assert.match(output, /stopped/);
  } finally {
    // SIGINT lets the script stop its agent too (a SIGKILL would leave the agent running).
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
});
