// End to end with a real file system AND a real policy server: an exFAT image on a loop device mounted
// through FUSE stands in for the USB stick, a real `exitseal-agent` process enrolled to a real
// `exitseal-server` process watches it, the Debian `age` CLI opens the results with the zone identity from the
// signed bundle, and the server's export log is the judge of "one event per file".
// Where root, loop devices, FUSE or the tools are missing, every test is skipped with the reason printed loudly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { loadEnrolment } from '@exitseal/agent';
import { AgentProcess, readEvents } from './support/agent-process.js';
import { enrolByCli, serverEventsOf, writeServerAgentConfig, type ServerEvent } from './support/enrolled-agent.js';
import { LoopStick, missingStickFacilities } from './support/loop-stick.js';
import { PolicyServerProcess } from './support/policy-server-process.js';
import { ageDecryptedSha, listFiles, sha256, sha256OfFile, startsSealed, waitUntil } from './support/stick-files.js';
import { customerZonesWithThisPcIn } from './support/zones.js';

const run = promisify(execFile);
const skip = missingStickFacilities() ?? false;

interface EnrolledStickAgent {
  readonly dir: string;
  readonly configPath: string;
  readonly agentId: string;
  readonly identityFile: string;
  readonly mountPoint: string;
}

describe('USB stick end to end against a real policy server (exFAT on a loop device through FUSE)', { skip }, () => {
  let workspace: string;
  let server: PolicyServerProcess;

  before(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'exitseal-e2e-stick-server-'));
    server = await PolicyServerProcess.create(join(workspace, 'server'));
    await server.start();
    const admin = await server.person('admin1');
    await admin.call('PUT', '/api/v1/zones', { zones: customerZonesWithThisPcIn('lgwan') });
  });

  after(async () => {
    await server?.stop();
    await rm(workspace, { recursive: true, force: true });
  });

  /** An LGWAN agent enrolled with the CLI, watching `mountPoint` as a declared removable mount. */
  async function enrolStickAgent(name: string): Promise<EnrolledStickAgent> {
    const dir = join(workspace, name);
    await mkdir(dir);
    const mountPoint = join(dir, 'stick');
    const configPath = await writeServerAgentConfig(dir, { media: { pollIntervalMs: 100, settleMs: 200, sealConcurrency: 2, declaredVolumes: [{ path: mountPoint, kind: 'mount' }] } });
    const identityFile = join(dir, 'lgwan.key');
    await enrolByCli(server, configPath, join(dir, 'data'), 'lgwan', identityFile);
    const agentId = (await loadEnrolment(join(dir, 'data')))?.agentId;
    assert.ok(agentId, 'enrolled');
    return { dir, configPath, agentId, identityFile, mountPoint };
  }

  function assertOneSealedEventPerFile(stored: readonly ServerEvent[], expected: ReadonlyMap<string, string>, device: { serial: string; label: string; mount: string }): void {
    assert.equal(stored.length, expected.size, 'exactly one event per file at the server');
    assert.equal(new Set(stored.map((event) => event.eventId)).size, stored.length, 'no event stored twice');
    for (const event of stored) {
      assert.equal(event.action, 'sealed');
      assert.equal(event.zoneId, 'lgwan');
      assert.equal(event.sha256, expected.get(event.mediaPath ?? ''), `event hash of ${event.mediaPath}`);
      assert.deepEqual([event.deviceSerial, event.deviceLabel, event.deviceMount], [device.serial, device.label, device.mount], `device of ${event.mediaPath}`);
      assert.equal(event.agentChainOk, true, 'the agent hash chain continues');
    }
  }

  test('insert, then copy a file, a folder of 1,000 small files and a 200 MB file: all sealed in place to the bundle zone key, age opens them, the server has one event each', async () => {
    const enrolled = await enrolStickAgent('bulk');
    // Sealing in place needs room for the sealed copy beside the original until the rename: a 200 MB file
    // needs 400 MB free for a moment, so the image is 600 MB (sparse; a full stick is tested separately).
    const stick = await LoopStick.create(join(enrolled.dir, 'stick.img'), 600, 'E2ESTICK');
    let agent: AgentProcess | undefined;
    try {
      // What was on the stick before it met this PC.
      await stick.mount(enrolled.mountPoint);
      await writeFile(join(enrolled.mountPoint, 'brought-from-home.txt'), 'not from this PC');
      await mkdir(join(enrolled.mountPoint, 'old'));
      await writeFile(join(enrolled.mountPoint, 'old', 'photo.jpg'), randomBytes(50_000));
      const beforeInsertion = new Map<string, string>();
      for (const rel of await listFiles(enrolled.mountPoint)) beforeInsertion.set(rel, await sha256OfFile(join(enrolled.mountPoint, rel)));
      await stick.unmount();

      agent = await AgentProcess.start(enrolled.configPath);
      const current = agent;
      const inForce = await current.waitForLog('the zone policy', (line) => line.message === 'policy in force');
      assert.deepEqual([inForce.fields?.zone, inForce.fields?.basis], ['lgwan', 'network-match']);
      await stick.mount(enrolled.mountPoint); // insertion
      await current.waitForLog('the stick to be watched', (line) => line.message === 'watching' && line.fields?.root === enrolled.mountPoint);

      const source = join(enrolled.dir, 'source');
      await mkdir(join(source, 'folder'), { recursive: true });
      const expected = new Map<string, string>();
      const single = randomBytes(123_457);
      await writeFile(join(source, 'budget 2025.xlsx'), single);
      expected.set('budget 2025.xlsx', sha256(single));
      for (let i = 0; i < 1000; i++) {
        const data = randomBytes(100 + (i % 50) * 37);
        await writeFile(join(source, 'folder', `note-${String(i).padStart(4, '0')}.txt`), data);
        expected.set(`folder/note-${String(i).padStart(4, '0')}.txt`, sha256(data));
      }
      await run('sh', ['-c', `head -c ${200 * 1024 * 1024} /dev/urandom > "$1"`, 'sh', join(source, 'video.mp4')]);
      expected.set('video.mp4', await sha256OfFile(join(source, 'video.mp4')));

      // Staff copy as always.
      await run('cp', [join(source, 'budget 2025.xlsx'), enrolled.mountPoint]);
      await run('cp', ['-r', join(source, 'folder'), enrolled.mountPoint]);
      await run('cp', [join(source, 'video.mp4'), enrolled.mountPoint]);

      await waitUntil('one local export event per copied file', () => readEvents(enrolled.configPath).length >= expected.size, 600_000, current);
      assert.equal(readEvents(enrolled.configPath).length, expected.size, 'exactly one local event per file');

      const onStick = await listFiles(enrolled.mountPoint);
      assert.deepEqual(onStick, [...expected.keys(), ...beforeInsertion.keys()].sort(), 'names unchanged, nothing added or lost, no temp files');
      for (const [rel, hash] of beforeInsertion) assert.equal(await sha256OfFile(join(enrolled.mountPoint, rel)), hash, `${rel} was there before: untouched`);
      for (const [rel, hash] of expected) {
        assert.ok(await startsSealed(join(enrolled.mountPoint, rel)), `${rel} is sealed`);
        assert.equal(await ageDecryptedSha(join(enrolled.mountPoint, rel), enrolled.identityFile), hash, `age -d with the bundle's LGWAN identity opens ${rel} to the original`);
      }

      const auditor = await server.person('auditor1');
      let stored: ServerEvent[] = [];
      await waitUntil('the events at the server', async () => (stored = await serverEventsOf(auditor, enrolled.agentId)).length >= expected.size, 120_000, current);
      assertOneSealedEventPerFile(stored, expected, { serial: await stick.volumeSerial(), label: 'E2ESTICK', mount: enrolled.mountPoint });
    } finally {
      await agent?.kill('SIGTERM');
      await stick.destroy();
    }
  });

  test('server down for the whole session (cached bundle): the stick is sealed offline, and when the server returns every event arrives exactly once', async () => {
    const enrolled = await enrolStickAgent('outage');
    const stick = await LoopStick.create(join(enrolled.dir, 'stick.img'), 64, 'OFFLINE');
    let agent: AgentProcess | undefined;
    let serverBack = false;
    await server.stop();
    try {
      agent = await AgentProcess.start(enrolled.configPath);
      const current = agent;
      const inForce = await current.waitForLog('the cached zone policy', (line) => line.message === 'policy in force');
      assert.equal(inForce.fields?.zone, 'lgwan', 'the cached, verified bundle is used while the server is down');
      await stick.mount(enrolled.mountPoint);
      await current.waitForLog('the stick to be watched', (line) => line.message === 'watching' && line.fields?.root === enrolled.mountPoint);

      const source = join(enrolled.dir, 'source');
      await mkdir(join(source, 'minutes'), { recursive: true });
      const expected = new Map<string, string>();
      for (let i = 0; i < 150; i++) {
        const data = randomBytes(200 + i * 13);
        await writeFile(join(source, 'minutes', `minutes-${i}.docx`), data);
        expected.set(`minutes/minutes-${i}.docx`, sha256(data));
      }
      const plan = randomBytes(2_000_000);
      await writeFile(join(source, 'plan.pdf'), plan);
      expected.set('plan.pdf', sha256(plan));
      await run('cp', ['-r', join(source, 'minutes'), join(source, 'plan.pdf'), enrolled.mountPoint]);

      await waitUntil('one local event per file', () => readEvents(enrolled.configPath).length >= expected.size, 120_000, current);
      const local = readEvents(enrolled.configPath);
      assert.equal(local.length, expected.size);
      for (const rel of expected.keys()) assert.ok(await startsSealed(join(enrolled.mountPoint, rel)), `${rel} sealed while the server is down`);
      // The uploader has been retrying against a closed port all this time; give it a few more rounds.
      await new Promise((resolve) => setTimeout(resolve, 3000));

      await server.start();
      serverBack = true;
      const reader = await server.person('auditor1');
      let stored: ServerEvent[] = [];
      await waitUntil('every event at the server', async () => (stored = await serverEventsOf(reader, enrolled.agentId)).length >= expected.size, 120_000, current);
      // Further upload rounds must not add anything.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      stored = await serverEventsOf(reader, enrolled.agentId);
      assertOneSealedEventPerFile(stored, expected, { serial: await stick.volumeSerial(), label: 'OFFLINE', mount: enrolled.mountPoint });
      assert.deepEqual(stored.map((event) => event.eventId).sort(), local.map((event) => event.eventId).sort(), 'the server holds exactly the events the agent logged');
    } finally {
      await agent?.kill('SIGTERM');
      await stick.destroy();
      // The other tests of this file need the server back even when this one failed.
      if (!serverBack) await server.start();
    }
  });
});
