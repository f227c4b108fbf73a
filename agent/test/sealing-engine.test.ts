import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openStream, type Identity } from '@exitseal/core';
import { strictestPolicy, type BundlePayload } from '@exitseal/core/policy';
import { validateAgentConfig } from '../src/config/agent-config.js';
import { sealFile } from '../src/files/sealed-file-io.js';
import { DeclaredVolumeSource } from '../src/media/declared-volumes.js';
import { MountWatcher } from '../src/media/mount-watcher.js';
import { LocalPolicySource, type PolicySource } from '../src/policy/agent-policy.js';
import { ServerPolicySource } from '../src/policy/server-policy-source.js';
import { ExportProcessor } from '../src/sealing/export-processor.js';
import { RecentNotices } from '../src/sealing/notifier.js';
import { Quarantine } from '../src/sealing/quarantine.js';
import { SealingEngine } from '../src/sealing/sealing-engine.js';
import { AgentDatabase } from '../src/storage/database.js';
import { EventOutbox } from '../src/storage/event-outbox.js';
import { JobJournal } from '../src/storage/job-journal.js';
import { VolumeRegistry } from '../src/storage/volume-registry.js';
import { baseConfig, inTempDir, makeZone, MemoryLogger, waitFor, type ZoneKeys } from './helpers.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The agent's sealing pipeline wired in-process around a declared directory "stick", as main.ts wires it. */
class Rig {
  readonly db: AgentDatabase;
  readonly journal: JobJournal;
  readonly outbox: EventOutbox;
  readonly logger = new MemoryLogger();
  readonly notifier: RecentNotices;
  readonly engine: SealingEngine;
  readonly watcher: MountWatcher;

  constructor(
    readonly dir: string,
    readonly stick: string,
    policyOverrides: Record<string, unknown> = {},
    zone: ZoneKeys,
    serverPolicy?: PolicySource,
  ) {
    const raw = baseConfig(join(dir, 'data'), zone) as { localPolicy: Record<string, unknown> };
    Object.assign(raw.localPolicy, policyOverrides);
    const config = validateAgentConfig(raw);
    this.db = AgentDatabase.open(join(dir, 'agent.db'));
    this.journal = new JobJournal(this.db);
    this.outbox = new EventOutbox(this.db);
    const policy = serverPolicy ?? new LocalPolicySource(config.localPolicy!);
    this.notifier = new RecentNotices(this.logger);
    const processor = new ExportProcessor({
      db: this.db,
      journal: this.journal,
      outbox: this.outbox,
      policy,
      quarantine: new Quarantine(join(dir, 'quarantine')),
      notifier: this.notifier,
      logger: this.logger,
      host: 'test-pc',
      osUserOf: () => Promise.resolve('hanako'),
    });
    this.engine = new SealingEngine(
      policy,
      { processor, journal: this.journal, registry: new VolumeRegistry(this.db), logger: this.logger, settleMs: 40, concurrency: 2 },
      this.notifier,
      this.logger,
    );
    const source = new DeclaredVolumeSource([{ path: stick, kind: 'directory', label: 'TESTSTICK', serial: 'SN-TEST-1' }], { bootId: () => Promise.resolve('boot') });
    this.watcher = new MountWatcher([source], this.engine, 20, (error) => this.logger.error('watcher', { error: String(error) }));
  }

  async start(): Promise<void> {
    await this.watcher.start();
    await this.engine.startOutboundFolders();
  }

  /** Stops like a service stop: mounts stay "mounted" in the registry. */
  async stop(): Promise<void> {
    await this.watcher.stop();
    await this.engine.stop();
    this.db.close();
  }

  async settled(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 120));
    await waitFor('the engine to go idle', () => (this.engine.isIdle() ? true : undefined), 60_000);
  }

  watching(root: string): Promise<boolean> {
    return waitFor(`watching ${root}`, () => (this.engine.watchedRoots().includes(root) && this.engine.isIdle() ? true : undefined));
  }
}

async function plaintextOf(path: string, identities: readonly Identity[]): Promise<Buffer> {
  const opened = await openStream([await readFile(path)], identities);
  const pieces: Buffer[] = [];
  for await (const piece of opened.plaintext) pieces.push(piece);
  return Buffer.concat(pieces);
}

async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(join(root, entry.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

describe('sealing engine on a declared directory volume', () => {
  test('new files, a folder of small files and a large file are sealed in place; files already there are left alone', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      await mkdir(stick);
      await writeFile(join(stick, 'before.txt'), 'was here before insertion');
      const rig = new Rig(dir, stick, {}, zone);
      await rig.start();
      await rig.watching(stick);

      const originals = new Map<string, Buffer>();
      originals.set('report.docx', randomBytes(10_000));
      originals.set('big.bin', randomBytes(6 * 1024 * 1024 + 17));
      originals.set('empty.txt', Buffer.alloc(0));
      for (let i = 0; i < 200; i++) originals.set(`folder/sub${i % 4}/f${i}.txt`, Buffer.from(`small file ${i}\n`));
      const staging = join(dir, 'staging');
      for (const [rel, data] of originals) {
        await mkdir(join(staging, rel, '..'), { recursive: true });
        await writeFile(join(staging, rel), data);
      }
      await cp(staging, stick, { recursive: true });
      await rig.settled();

      assert.deepEqual(await listFiles(stick), [...originals.keys(), 'before.txt'].sort(), 'names unchanged, no temp files left');
      assert.equal(await readFile(join(stick, 'before.txt'), 'utf8'), 'was here before insertion');
      for (const [rel, data] of originals) {
        assert.ok((await plaintextOf(join(stick, rel), [zone.identity])).equals(data), `${rel} opens to its original content`);
      }
      const events = rig.outbox.all().map((stored) => stored.event);
      assert.equal(events.length, originals.size, 'one event per file');
      for (const event of events) {
        assert.equal(event.action, 'sealed');
        assert.equal(event.channel, 'removableMedia');
        assert.deepEqual(event.device, { serial: 'SN-TEST-1', label: 'TESTSTICK', mount: stick });
        const original = originals.get(event.mediaPath ?? '');
        assert.ok(original, `event for an unknown file ${event.mediaPath}`);
        assert.equal(event.sha256, sha256(original));
        assert.equal(event.size, original.length);
        assert.equal(event.zoneId, 'lgwan');
        assert.equal(event.keyVersion, 1);
      }
      assert.equal(rig.outbox.verifyChain(), null);
      assert.equal(rig.journal.count(), 0);
      await rig.stop();
    });
  });

  test('a file already sealed is left alone; a file rewritten while it is sealed ends up sealed with its last content', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      await mkdir(stick);
      const rig = new Rig(dir, stick, {}, zone);
      await rig.start();
      await rig.watching(stick);

      const presealed = join(dir, 'presealed.txt');
      await writeFile(join(dir, 'plain.txt'), 'sealed on the PC');
      await sealFile(join(dir, 'plain.txt'), { outputPath: presealed }, { recipients: [zone.identity.recipient], meta: { zoneId: 'lgwan', keyVersion: 1 } });
      const presealedBytes = await readFile(presealed);
      await writeFile(join(stick, 'presealed.txt'), presealedBytes);

      const first = randomBytes(24 * 1024 * 1024);
      const last = Buffer.from('the final content');
      await writeFile(join(stick, 'moving.bin'), first);
      await waitFor('a seal in progress', async () => ((await readdir(stick)).some((name) => name.startsWith('.es-')) ? true : undefined), 20_000, 2);
      await writeFile(join(stick, 'moving.bin'), last);
      await rig.settled();

      assert.ok((await readFile(join(stick, 'presealed.txt'))).equals(presealedBytes));
      assert.ok((await plaintextOf(join(stick, 'moving.bin'), [zone.identity])).equals(last));
      // Usually the first seal is abandoned (SOURCE_CHANGED); if it won the race it is logged too. Either
      // way the last event is the last content, and nothing else was logged.
      const events = rig.outbox.all().map((stored) => stored.event);
      assert.deepEqual(events.at(-1) && [events.at(-1)?.fileName, events.at(-1)?.sha256], ['moving.bin', sha256(last)]);
      assert.ok(events.every((event) => event.fileName === 'moving.bin' && [sha256(first), sha256(last)].includes(event.sha256 ?? '')));
      await rig.stop();
    });
  });

  test('after an agent restart on the same mount, files written while it was down are sealed and the old baseline still holds', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      await mkdir(stick);
      await writeFile(join(stick, 'before.txt'), 'old');
      let rig = new Rig(dir, stick, {}, zone);
      await rig.start();
      await rig.watching(stick);
      await rig.stop();

      await writeFile(join(stick, 'while-down.txt'), 'written while the agent was stopped');
      await writeFile(join(stick, '.es-0badc0de.tmp'), 'half a seal');
      rig = new Rig(dir, stick, {}, zone);
      await rig.start();
      await rig.watching(stick);
      await rig.settled();
      assert.equal(await readFile(join(stick, 'before.txt'), 'utf8'), 'old');
      assert.equal((await plaintextOf(join(stick, 'while-down.txt'), [zone.identity])).toString(), 'written while the agent was stopped');
      assert.deepEqual(await listFiles(stick), ['before.txt', 'while-down.txt'], 'the leftover temp file is removed');
      await rig.stop();
    });
  });

  test('a stick pulled before its file was sealed: the job waits in the journal and is finished when the same stick returns', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      await mkdir(stick);
      const rig = new Rig(dir, stick, {}, zone);
      await rig.start();
      await rig.watching(stick);
      await writeFile(join(stick, 'pulled.txt'), 'copied just before the stick was pulled');
      await waitFor('the job in the journal', () => (rig.journal.count() === 1 ? true : undefined), 5_000, 1);
      await rename(stick, join(dir, 'away'));
      await waitFor('the unmount', () => (rig.engine.watchedRoots().length === 0 ? true : undefined));
      assert.equal((await readFile(join(dir, 'away', 'pulled.txt'), 'utf8')).startsWith('copied'), true, 'still plaintext while away');

      // The same stick (same serial) comes back as a new mount: a fresh baseline, but the journal has the job.
      await cp(join(dir, 'away'), join(dir, 'back'), { recursive: true });
      await rename(join(dir, 'back'), stick);
      await rig.watching(stick);
      await rig.settled();
      assert.equal((await plaintextOf(join(stick, 'pulled.txt'), [zone.identity])).toString(), 'copied just before the stick was pulled');
      assert.equal(rig.journal.count(), 0);
      assert.deepEqual(rig.outbox.all().map((stored) => stored.event.action), ['sealed']);
      await rig.stop();
    });
  });

  test('a device refused by the allow list: new files are moved to quarantine and logged as blocked, old files stay', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      await mkdir(stick);
      await writeFile(join(stick, 'before.txt'), 'old');
      const rig = new Rig(dir, stick, { devices: { allow: [{ vendorId: '0781' }], deny: [] } }, zone);
      await rig.start();
      await rig.watching(stick);
      const data = randomBytes(5000);
      await writeFile(join(stick, 'secret.xlsx'), data);
      await rig.settled();

      assert.deepEqual(await listFiles(stick), ['before.txt']);
      const quarantined = (await listFiles(join(dir, 'quarantine'))).filter((rel) => rel.endsWith('secret.xlsx'));
      assert.equal(quarantined.length, 1);
      assert.ok((await readFile(join(dir, 'quarantine', quarantined[0] ?? ''))).equals(data), 'the quarantined copy is the whole file');
      const events = rig.outbox.all().map((stored) => stored.event);
      assert.deepEqual(events.map((event) => [event.action, event.fileName, event.sha256]), [['blocked', 'secret.xlsx', sha256(data)]]);
      assert.match(events[0]?.reason ?? '', /not on the allow list/);
      assert.ok(rig.notifier.recent().some((notice) => notice.kind === 'blocked' && notice.message.includes('secret.xlsx')));
      await rig.stop();
    });
  });

  test('an "allow" channel leaves files plaintext and logs them; an outbound folder is sealed like a stick, including what was in it before', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      const outbound = join(dir, 'cloud-sync');
      await mkdir(stick);
      await mkdir(join(outbound, 'sub'), { recursive: true });
      await writeFile(join(outbound, 'already.txt'), 'before');
      await writeFile(join(outbound, 'sub', 'older.txt'), 'also before');
      const policy = { channels: { removableMedia: 'allow', outboundFolders: 'seal' }, outboundFolders: [outbound] };
      const rig = new Rig(dir, stick, policy, zone);
      await rig.start();
      await rig.watching(stick);
      await rig.watching(outbound);
      await writeFile(join(stick, 'open.txt'), 'stays plaintext');
      await writeFile(join(outbound, 'upload.txt'), 'leaves through the cloud');
      await rig.settled();

      assert.equal(await readFile(join(stick, 'open.txt'), 'utf8'), 'stays plaintext');
      assert.equal((await plaintextOf(join(outbound, 'upload.txt'), [zone.identity])).toString(), 'leaves through the cloud');
      assert.equal((await plaintextOf(join(outbound, 'already.txt'), [zone.identity])).toString(), 'before', 'a file already in the outbound folder leaves too: sealed');
      assert.equal((await plaintextOf(join(outbound, 'sub', 'older.txt'), [zone.identity])).toString(), 'also before');
      const events = rig.outbox.all().map((stored) => [stored.event.channel, stored.event.action, stored.event.fileName]);
      assert.deepEqual(events.sort(), [
        ['outboundFolders', 'sealed', 'already.txt'],
        ['outboundFolders', 'sealed', 'older.txt'],
        ['outboundFolders', 'sealed', 'upload.txt'],
        ['removableMedia', 'allowed-plaintext', 'open.txt'],
      ]);
      assert.ok((await stat(join(stick, 'open.txt'))).isFile());
      await rig.stop();

      // Restarted: what was dropped in while the agent was down is sealed; what it sealed is not logged again.
      await writeFile(join(outbound, 'while-down.txt'), 'dropped while the agent was stopped');
      const restarted = new Rig(dir, stick, policy, zone);
      await restarted.start();
      await restarted.watching(outbound);
      await restarted.settled();
      assert.equal((await plaintextOf(join(outbound, 'while-down.txt'), [zone.identity])).toString(), 'dropped while the agent was stopped');
      const after = restarted.outbox.all().map((stored) => [stored.event.action, stored.event.fileName]);
      assert.deepEqual(after.slice(4), [['sealed', 'while-down.txt']], 'one new event');
      await restarted.stop();
    });
  });

  test('a zone change while a stick is mounted (SealingEngine.applyPolicy): files written from then on get the new zone treatment', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const stick = join(dir, 'stick');
      await mkdir(stick);
      const home = { addresses: ['10.2.0.7'], dnsSuffixes: [], gateways: [] };
      const bundle: BundlePayload = {
        formatVersion: 1,
        revision: 3,
        issuedAt: new Date().toISOString(),
        agentId: 'agent-1',
        homeZoneId: 'lgwan',
        zones: [
          { id: 'lgwan', name: 'LGWAN', priority: 1, fallback: false, detection: { cidrs: ['10.2.0.0/16'], dnsSuffixes: [], gateways: [] } },
          { id: 'unknown', name: 'Unknown', priority: 10000, fallback: true, detection: { cidrs: [], dnsSuffixes: [], gateways: [] } },
        ],
        policies: [
          {
            zoneId: 'lgwan',
            policy: { ...strictestPolicy(), channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'block' }, openableOrigins: ['lgwan'], offline: { maxHours: 72, after: 'seal-everything' } },
          },
          { zoneId: 'unknown', policy: { ...strictestPolicy(), channels: { removableMedia: 'block', outboundFolders: 'block', mail: 'block' } } },
        ],
        sealTo: { zoneId: 'lgwan', keyVersion: 1, recipient: zone.identity.recipient.toString() },
        identities: [{ zoneId: 'lgwan', keyVersion: 1, secret: zone.identity.toSecretString() }],
      };
      const logger = new MemoryLogger();
      const source = new ServerPolicySource([], logger);
      source.networkChanged(home);
      source.contactChanged({ online: true, lastContactAt: new Date() });
      source.bundleChanged(bundle);
      const rig = new Rig(dir, stick, {}, zone, source);
      await rig.start();
      await rig.watching(stick);

      await writeFile(join(stick, 'at-home.txt'), 'written in LGWAN');
      await rig.settled();
      assert.equal((await plaintextOf(join(stick, 'at-home.txt'), [zone.identity])).toString(), 'written in LGWAN');

      // The PC is carried to a network no zone claims: the fallback blocks removable media.
      source.networkChanged({ addresses: ['192.0.2.44'], dnsSuffixes: [], gateways: [] });
      await rig.engine.settled();
      assert.ok(rig.logger.lines.some((line) => line.message === 'volume treatment changed by the policy' && line.fields.mode === 'remove' && line.fields.zone === 'unknown'));
      await writeFile(join(stick, 'abroad.txt'), 'written on an unknown network');
      await rig.settled();
      await assert.rejects(stat(join(stick, 'abroad.txt')), { code: 'ENOENT' }, 'blocked: moved off the stick');
      assert.deepEqual(await readdir(join(dir, 'quarantine')).then((names) => names.length), 1, 'kept in the local quarantine');

      source.networkChanged(home);
      await rig.engine.settled();
      await writeFile(join(stick, 'back-home.txt'), 'written in LGWAN again');
      await rig.settled();
      assert.equal((await plaintextOf(join(stick, 'back-home.txt'), [zone.identity])).toString(), 'written in LGWAN again');
      assert.deepEqual(
        rig.outbox.all().map((stored) => [stored.event.zoneId, stored.event.action, stored.event.fileName]),
        [
          ['lgwan', 'sealed', 'at-home.txt'],
          ['unknown', 'blocked', 'abroad.txt'],
          ['lgwan', 'sealed', 'back-home.txt'],
        ],
      );
      await rig.stop();
    });
  });
});
