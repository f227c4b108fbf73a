// End to end with a real file system: an exFAT image on a loop device mounted through FUSE stands in for the
// USB stick, a real `exitseal-agent run` process watches it, and the Debian `age` CLI checks the results.
// Where root, loop devices, FUSE or the tools are missing, every test is skipped with the reason printed loudly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { AgentProcess, readEvents, writeAgentConfig } from './support/agent-process.js';
import { LoopStick, missingStickFacilities } from './support/loop-stick.js';
import { ageDecryptedSha, listFiles, sha256, sha256OfFile, startsSealed, waitUntil, withWorkspace } from './support/stick-files.js';

const run = promisify(execFile);
const skip = missingStickFacilities() ?? false;

describe('USB stick end to end (exFAT on a loop device through FUSE)', { skip }, () => {
  test('insert, then copy a file, a folder of 1,000 small files and a 200 MB file: all sealed in place, age opens them, one event each', async () => {
    await withWorkspace(async (ws) => {
      // Sealing in place needs room for the sealed copy beside the original until the rename: a 200 MB file
      // needs 400 MB free for a moment, so the image is 600 MB (sparse; a full stick is tested separately).
      const stick = await LoopStick.create(join(ws.dir, 'stick.img'), 600, 'E2ESTICK');
      let agent: AgentProcess | undefined;
      try {
        // What was on the stick before it met this PC.
        await stick.mount(ws.mountPoint);
        await writeFile(join(ws.mountPoint, 'brought-from-home.txt'), 'not from this PC');
        await mkdir(join(ws.mountPoint, 'old'));
        await writeFile(join(ws.mountPoint, 'old', 'photo.jpg'), randomBytes(50_000));
        const before = new Map<string, string>();
        for (const rel of await listFiles(ws.mountPoint)) before.set(rel, await sha256OfFile(join(ws.mountPoint, rel)));
        await stick.unmount();

        const configPath = await writeAgentConfig({ dir: ws.dir, recipient: ws.recipient, identityFile: ws.identityFile, declaredMount: ws.mountPoint });
        agent = await AgentProcess.start(configPath);
        await stick.mount(ws.mountPoint); // insertion
        const current = agent;
        await current.waitForLog('the stick to be watched', (line) => line.message === 'watching' && line.fields?.root === ws.mountPoint);

        const source = join(ws.dir, 'source');
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
        await run('cp', [join(source, 'budget 2025.xlsx'), ws.mountPoint]);
        await run('cp', ['-r', join(source, 'folder'), ws.mountPoint]);
        await run('cp', [join(source, 'video.mp4'), ws.mountPoint]);

        await waitUntil('one export event per copied file', () => readEvents(configPath).length >= expected.size, 600_000, current);
        const events = readEvents(configPath);
        assert.equal(events.length, expected.size, 'exactly one event per file');

        const onStick = await listFiles(ws.mountPoint);
        assert.deepEqual(onStick, [...expected.keys(), ...before.keys()].sort(), 'names unchanged, nothing added or lost, no temp files');
        for (const [rel, hash] of before) assert.equal(await sha256OfFile(join(ws.mountPoint, rel)), hash, `${rel} was there before: untouched`);
        for (const [rel, hash] of expected) {
          assert.ok(await startsSealed(join(ws.mountPoint, rel)), `${rel} is sealed`);
          assert.equal(await ageDecryptedSha(join(ws.mountPoint, rel), ws.identityFile), hash, `age -d opens ${rel} to the original`);
        }
        const serial = await stick.volumeSerial();
        for (const event of events) {
          assert.equal(event.action, 'sealed');
          assert.equal(event.sha256, expected.get(event.mediaPath ?? ''), `event hash of ${event.mediaPath}`);
          assert.deepEqual(event.device, { serial, label: 'E2ESTICK', mount: ws.mountPoint });
        }
      } finally {
        await agent?.kill('SIGTERM');
        await stick.destroy();
      }
    });
  });
});
