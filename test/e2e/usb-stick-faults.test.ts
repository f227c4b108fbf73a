// Fault injection against a real exFAT stick (loop device + FUSE) and a real agent process: kill -9 of the
// agent at random moments, a stick too full to seal in place, and a stick pulled out in the middle of a seal.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { AgentProcess, readEvents, writeAgentConfig } from './support/agent-process.js';
import { LoopStick, missingStickFacilities } from './support/loop-stick.js';
import { ageDecryptedSha, listFiles, sha256, sha256OfFile, startsSealed, waitUntil, withWorkspace } from './support/stick-files.js';

const run = promisify(execFile);
const skip = missingStickFacilities() ?? false;

describe('USB stick faults end to end (exFAT on a loop device through FUSE)', { skip }, () => {
  test('kill -9 of the agent 20 times at random moments while files are copied and sealed: every file ends up sealed, none lost or truncated', async () => {
    await withWorkspace(async (ws) => {
      const stick = await LoopStick.create(join(ws.dir, 'stick.img'), 256, 'KILLTEST');
      let agent: AgentProcess | undefined;
      try {
        const configPath = await writeAgentConfig({ dir: ws.dir, recipient: ws.recipient, identityFile: ws.identityFile, declaredMount: ws.mountPoint, settleMs: 100 });
        agent = await AgentProcess.start(configPath);
        await stick.mount(ws.mountPoint);
        const first = agent;
        await first.waitForLog('the stick to be watched', (line) => line.message === 'watching' && line.fields?.root === ws.mountPoint);

        const expected = new Map<string, string>();
        let restartsWithUnfinishedWork = 0;
        for (let round = 0; round < 20; round++) {
          const batch = join(ws.dir, 'source', `batch-${round}`);
          await mkdir(batch, { recursive: true });
          for (let i = 0; i < 12; i++) {
            const data = randomBytes(randomInt(1, 600_000));
            await writeFile(join(batch, `file-${i}.bin`), data);
            expected.set(`batch-${round}/file-${i}.bin`, sha256(data));
          }
          const copying = run('cp', ['-r', batch, ws.mountPoint]);
          // Within the copy, the 100 ms settle time and the seals that follow: later kills find nothing to do.
          await new Promise((resolve) => setTimeout(resolve, randomInt(0, 250)));
          await agent.kill('SIGKILL');
          await copying;
          agent = await AgentProcess.start(configPath);
          const restarted = agent;
          const watching = await restarted.waitForLog('the stick to be watched again', (line) => line.message === 'watching');
          const unfinished = Number(watching.fields?.changedSinceBaseline ?? 0) + Number(watching.fields?.resumedJobs ?? 0);
          if (unfinished > 0) restartsWithUnfinishedWork++;
        }
        // The kills must have landed while there was work in flight, or this test would prove nothing.
        console.log(`kill -9 test: ${restartsWithUnfinishedWork} of 20 restarts found unfinished work`);
        assert.ok(restartsWithUnfinishedWork >= 5, `only ${restartsWithUnfinishedWork} of 20 kills interrupted work`);
        const last = agent;
        await waitUntil(
          'every copied file to be sealed',
          async () => {
            for (const rel of expected.keys()) if (!(await startsSealed(join(ws.mountPoint, rel)).catch(() => false))) return false;
            return true;
          },
          180_000,
          last,
        );
        await waitUntil('the journal to drain (one event per file)', () => new Set(readEvents(configPath).map((event) => event.mediaPath)).size >= expected.size, 60_000, last);

        assert.deepEqual(await listFiles(ws.mountPoint), [...expected.keys()].sort(), 'every file there under its name, no temp file left');
        for (const [rel, hash] of expected) {
          assert.equal(await ageDecryptedSha(join(ws.mountPoint, rel), ws.identityFile), hash, `${rel} opens to its full original content`);
        }
        const sealedEvents = readEvents(configPath).filter((event) => event.action === 'sealed');
        const perFile = new Map<string, number>();
        for (const event of sealedEvents) perFile.set(event.mediaPath ?? '', (perFile.get(event.mediaPath ?? '') ?? 0) + 1);
        for (const rel of expected.keys()) assert.equal(perFile.get(rel), 1, `exactly one sealed event for ${rel}`);
      } finally {
        await agent?.kill('SIGKILL');
        await stick.destroy();
      }
    });
  });

  test('a stick too full to seal in place: the plaintext moves to the local quarantine, leaves the stick, and is logged', async () => {
    await withWorkspace(async (ws) => {
      const stick = await LoopStick.create(join(ws.dir, 'small.img'), 8, 'FULLSTICK');
      let agent: AgentProcess | undefined;
      try {
        const configPath = await writeAgentConfig({ dir: ws.dir, recipient: ws.recipient, identityFile: ws.identityFile, declaredMount: ws.mountPoint });
        agent = await AgentProcess.start(configPath);
        await stick.mount(ws.mountPoint);
        const current = agent;
        await current.waitForLog('the stick to be watched', (line) => line.message === 'watching' && line.fields?.root === ws.mountPoint);
        const data = randomBytes(5 * 1024 * 1024);
        await writeFile(join(ws.dir, 'large.pdf'), data);
        await run('cp', [join(ws.dir, 'large.pdf'), ws.mountPoint]);

        await waitUntil('the quarantine event', () => readEvents(configPath).some((event) => event.action === 'quarantined'), 60_000, current);
        const [event] = readEvents(configPath);
        assert.equal(event?.action, 'quarantined');
        assert.equal(event.sha256, sha256(data));
        assert.match(event.reason ?? '', /no space/);
        assert.deepEqual(await listFiles(ws.mountPoint), [], 'the plaintext left the stick, and no temp file remains');
        const quarantineRoot = join(ws.dir, 'agent-data', 'quarantine');
        const kept = (await listFiles(quarantineRoot)).filter((rel) => rel.endsWith('large.pdf'));
        assert.equal(kept.length, 1);
        assert.ok((await readFile(join(quarantineRoot, kept[0] ?? ''))).equals(data), 'the quarantined copy is complete');
        await current.waitForLog('a notice to the user', (line) => line.message === 'user notice' && line.fields?.kind === 'quarantined');
      } finally {
        await agent?.kill('SIGTERM');
        await stick.destroy();
      }
    });
  });

  test('a stick pulled out in the middle of a seal: the original survives, and the job finishes when the same stick is back', async () => {
    await withWorkspace(async (ws) => {
      const stick = await LoopStick.create(join(ws.dir, 'stick.img'), 512, 'PULLTEST');
      let agent: AgentProcess | undefined;
      try {
        const configPath = await writeAgentConfig({ dir: ws.dir, recipient: ws.recipient, identityFile: ws.identityFile, declaredMount: ws.mountPoint });
        agent = await AgentProcess.start(configPath);
        await stick.mount(ws.mountPoint, { yankable: true });
        const current = agent;
        await current.waitForLog('the stick to be watched', (line) => line.message === 'watching' && line.fields?.root === ws.mountPoint);
        const source = join(ws.dir, 'archive.zip');
        await run('sh', ['-c', `head -c ${150 * 1024 * 1024} /dev/urandom > "$1"`, 'sh', source]);
        const hash = await sha256OfFile(source);
        // cp then fsync the copy, so what is "on the stick" is on the device when it is pulled.
        await run('cp', [source, ws.mountPoint]);
        await run('sync', [join(ws.mountPoint, 'archive.zip')]);
        await waitUntil('a seal in progress', async () => (await readdir(ws.mountPoint)).some((name) => name.startsWith('.es-')), 60_000, current);
        await stick.yank();
        await current.waitForLog('the agent to see the stick go', (line) => line.message === 'volume unmounted', 30_000);
        assert.equal(readEvents(configPath).filter((event) => event.action === 'sealed').length, 0, 'nothing was logged as sealed');

        await stick.mount(ws.mountPoint); // the same stick comes back
        await waitUntil('the resumed seal', () => readEvents(configPath).some((event) => event.action === 'sealed'), 120_000, current);
        assert.deepEqual(await listFiles(ws.mountPoint), ['archive.zip'], 'the leftover temp file was cleaned up');
        assert.equal(await ageDecryptedSha(join(ws.mountPoint, 'archive.zip'), ws.identityFile), hash, 'sealed from the complete original');
        const events = readEvents(configPath);
        assert.deepEqual(events.map((event) => [event.action, event.mediaPath, event.sha256]), [['sealed', 'archive.zip', hash]]);
      } finally {
        await agent?.kill('SIGTERM');
        await stick.destroy();
      }
    });
  });
});
