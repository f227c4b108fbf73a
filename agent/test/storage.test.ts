import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AgentDatabase, StorageError } from '../src/storage/database.js';
import { EventOutbox, type ExportEventInput } from '../src/storage/event-outbox.js';
import { JobJournal } from '../src/storage/job-journal.js';
import { VolumeRegistry } from '../src/storage/volume-registry.js';
import { inTempDir } from './helpers.js';

function sealedEvent(fileName: string): ExportEventInput {
  return {
    host: 'pc-01',
    osUser: 'hanako',
    zoneId: 'lgwan',
    channel: 'removableMedia',
    device: { vendorId: '0781', productId: '5581', serial: 'SN1', label: 'STICK', mount: '/media/stick' },
    fileName,
    mediaPath: `docs/${fileName}`,
    size: 12,
    sha256: 'a'.repeat(64),
    action: 'sealed',
  };
}

describe('job journal', () => {
  test('records once per file, survives a reopen, keeps failures and forgets finished jobs', async () => {
    await inTempDir((dir) => {
      const path = join(dir, 'agent.db');
      let db = AgentDatabase.open(path);
      let journal = new JobJournal(db);
      const first = journal.record('usb:0781:5581:SN1', 'docs/a.txt', 'removableMedia');
      const again = journal.record('usb:0781:5581:SN1', 'docs/a.txt', 'removableMedia');
      assert.equal(again.id, first.id);
      journal.record('usb:0781:5581:SN1', 'docs/b.txt', 'removableMedia');
      journal.record('fs:exfat:1234-ABCD', 'c.txt', 'removableMedia');
      journal.startSealing(first, '11111111-2222-4333-8444-555555555555');
      db.close();

      db = AgentDatabase.open(path);
      journal = new JobJournal(db);
      const jobs = journal.pendingFor('usb:0781:5581:SN1');
      assert.deepEqual(jobs.map((job) => [job.relPath, job.state, job.attempts]), [['docs/a.txt', 'sealing', 1], ['docs/b.txt', 'pending', 0]]);
      assert.equal(jobs[0]?.fileId, '11111111-2222-4333-8444-555555555555');
      journal.recordFailure(jobs[0], 'MEDIA_GONE: the volume is gone');
      assert.equal(journal.find('usb:0781:5581:SN1', 'docs/a.txt')?.lastError, 'MEDIA_GONE: the volume is gone');
      assert.equal(journal.find('usb:0781:5581:SN1', 'docs/a.txt')?.state, 'pending');
      journal.finish(jobs[1]!);
      assert.equal(journal.count(), 2);
      db.close();
    });
  });

  test('a database from a newer agent, or a file that is not a database, is refused as a storage fault', async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, 'agent.db');
      const db = AgentDatabase.open(path);
      db.prepare('PRAGMA user_version = 99').run();
      db.close();
      assert.throws(() => AgentDatabase.open(path), (error: unknown) => error instanceof StorageError && error.kind === 'fault' && /newer agent/.test(error.message));
      const garbage = join(dir, 'garbage.db');
      await writeFile(garbage, 'this is not sqlite'.repeat(100));
      assert.throws(() => AgentDatabase.open(garbage), StorageError);
    });
  });
});

describe('event outbox', () => {
  test('events chain from the genesis hash, come out in order, and are marked uploaded', async () => {
    await inTempDir((dir) => {
      const db = AgentDatabase.open(join(dir, 'agent.db'));
      const outbox = new EventOutbox(db);
      const first = outbox.append(sealedEvent('a.txt'));
      const second = outbox.append(sealedEvent('b.txt'));
      assert.equal(first.prevHash, '0'.repeat(64));
      assert.equal(second.prevHash, first.hash);
      assert.equal(outbox.verifyChain(), null);
      const batch = outbox.pendingBatch(10);
      assert.deepEqual(batch.map((stored) => stored.event.fileName), ['a.txt', 'b.txt']);
      outbox.markUploaded([batch[0]!.seq]);
      assert.equal(outbox.pendingCount(), 1);
      assert.deepEqual(outbox.recent(1).map((stored) => stored.event.fileName), ['b.txt']);
      db.close();
    });
  });

  test('an edited or deleted row breaks the chain where it happened', async () => {
    await inTempDir((dir) => {
      const db = AgentDatabase.open(join(dir, 'agent.db'));
      const outbox = new EventOutbox(db);
      for (const name of ['a', 'b', 'c', 'd']) outbox.append(sealedEvent(`${name}.txt`));
      const stored = outbox.all();
      const edited = { ...stored[1]!.event, fileName: 'innocent.txt' };
      db.prepare('UPDATE events SET body = ? WHERE seq = ?').run(JSON.stringify(edited), stored[1]!.seq);
      assert.equal(outbox.verifyChain(), stored[1]!.seq);
      db.prepare('UPDATE events SET body = ? WHERE seq = ?').run(JSON.stringify(stored[1]!.event), stored[1]!.seq);
      db.prepare('DELETE FROM events WHERE seq = ?').run(stored[2]!.seq);
      assert.equal(outbox.verifyChain(), stored[3]!.seq);
      db.close();
    });
  });

  test('a failing transaction leaves neither the job change nor the event', async () => {
    await inTempDir((dir) => {
      const db = AgentDatabase.open(join(dir, 'agent.db'));
      const outbox = new EventOutbox(db);
      const journal = new JobJournal(db);
      const job = journal.record('vol', 'a.txt', 'removableMedia');
      assert.throws(() =>
        db.transaction(() => {
          journal.finish(job);
          outbox.append(sealedEvent('a.txt'));
          throw new Error('crash between the two');
        }),
      );
      assert.equal(journal.count(), 1);
      assert.equal(outbox.all().length, 0);
      db.close();
    });
  });
});

describe('volume registry', () => {
  test('the baseline is kept for the same mount after a restart, and dropped for a new mount', async () => {
    await inTempDir((dir) => {
      const path = join(dir, 'agent.db');
      let db = AgentDatabase.open(path);
      let registry = new VolumeRegistry(db);
      assert.equal(registry.continuingBaseline('vol', 'mount-1'), undefined);
      registry.saveBaseline('vol', 'mount-1', new Map([['old.txt', { size: 3, mtimeMs: 1000.5 }]]));
      db.close();

      db = AgentDatabase.open(path);
      registry = new VolumeRegistry(db);
      assert.deepEqual([...(registry.continuingBaseline('vol', 'mount-1') ?? [])], [['old.txt', { size: 3, mtimeMs: 1000.5 }]]);
      assert.equal(registry.continuingBaseline('vol', 'mount-2'), undefined);
      registry.markUnmounted('vol');
      assert.equal(registry.continuingBaseline('vol', 'mount-1'), undefined);
      db.close();
    });
  });
});
