import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { main } from '../src/main.js';
import { baseConfig, inTempDir, makeZone, waitFor } from './helpers.js';

function capture() {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('exitseal-agent command', () => {
  test('usage errors and invalid configuration exit 2 with every problem listed', async () => {
    await inTempDir(async (dir) => {
      const err = capture();
      const never = new Promise<string>(() => undefined);
      assert.equal(await main(['frobnicate'], { stdout: capture().stream, stderr: err.stream, stopSignal: never }), 2);
      assert.match(err.text(), /usage:/);
      const configPath = join(dir, 'agent.json');
      await writeFile(configPath, JSON.stringify({ dataDir: 'relative', localPolicy: { zoneId: 'BAD ZONE' } }));
      const err2 = capture();
      assert.equal(await main(['run', '--config', configPath], { stdout: capture().stream, stderr: err2.stream, stopSignal: never }), 2);
      assert.match(err2.text(), /invalid agent configuration/);
      assert.match(err2.text(), /\/localPolicy\/zoneId/);
      assert.match(err2.text(), /\/localPolicy\/sealTo/);
      const err3 = capture();
      assert.equal(await main(['run'], { stdout: capture().stream, stderr: err3.stream, stopSignal: never }), 2);
      assert.match(err3.text(), /--config FILE is required/);
    });
  });

  test('run seals on a declared volume until told to stop; events prints the chained log', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      await mkdir(stick);
      const configPath = join(dir, 'agent.json');
      const dataDir = join(dir, 'data');
      await writeFile(configPath, JSON.stringify(baseConfig(dataDir, zone, { media: { settleMs: 30, pollIntervalMs: 50, declaredVolumes: [{ path: stick, kind: 'directory', serial: 'S1' }] } })));
      let stop: (signal: string) => void = () => undefined;
      const stopSignal = new Promise<string>((resolve) => (stop = resolve));
      const running = main(['run', '--config', configPath], { stdout: capture().stream, stderr: capture().stream, stopSignal });
      const logPath = join(dataDir, 'logs', 'agent.log');
      await waitFor('the agent to be ready', async () => ((await readFile(logPath, 'utf8').catch(() => '')).includes('"agent ready"') ? true : undefined));
      await writeFile(join(stick, 'a.txt'), 'to be sealed');
      await waitFor('the seal', async () => ((await readFile(join(stick, 'a.txt'))).subarray(0, 3).toString() === 'age' ? true : undefined));
      stop('SIGTERM');
      assert.equal(await running, 0);
      const log = await readFile(logPath, 'utf8');
      assert.ok(!log.includes('to be sealed'), 'file content must never reach the log');
      assert.ok(!log.includes(zone.identity.toSecretString()), 'keys must never reach the log');
      for (const line of log.trim().split('\n')) JSON.parse(line);

      const out = capture();
      assert.equal(await main(['events', '--config', configPath], { stdout: out.stream, stderr: capture().stream, stopSignal }), 0);
      const events = out.text().trim().split('\n').map((line) => JSON.parse(line) as { action: string; fileName: string });
      assert.deepEqual(events.map((event) => [event.action, event.fileName]), [['sealed', 'a.txt']]);
    });
  });
});
