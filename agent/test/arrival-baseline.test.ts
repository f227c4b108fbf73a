// A stick is watched only after its drive was described (on Windows a PowerShell/CIM query of about a
// second; on Linux a sysfs and boot-sector read), so its baseline ("what was already there") is taken a
// moment after it arrived. Files copied to it in that moment must still be sealed: they are told from the
// stick's own files by their creation time on the volume, against when the drive was first seen.
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { inspectFile } from '../src/files/sealed-file-io.js';
import type { VolumeInfo } from '../src/media/volume.js';
import { LocalPolicySource } from '../src/policy/agent-policy.js';
import { validateAgentConfig } from '../src/config/agent-config.js';
import { copiedSinceArrival, ARRIVAL_GRACE_MS } from '../src/sealing/area-session.js';
import { ExportProcessor } from '../src/sealing/export-processor.js';
import { RecentNotices } from '../src/sealing/notifier.js';
import { Quarantine } from '../src/sealing/quarantine.js';
import { SealingEngine } from '../src/sealing/sealing-engine.js';
import { AgentDatabase } from '../src/storage/database.js';
import { EventOutbox } from '../src/storage/event-outbox.js';
import { JobJournal } from '../src/storage/job-journal.js';
import { VolumeRegistry } from '../src/storage/volume-registry.js';
import { baseConfig, inTempDir, makeZone, MemoryLogger, waitFor, type ZoneKeys } from './helpers.js';

/** The slack the session tests use instead of ARRIVAL_GRACE_MS, so they need not wait 5 s between files. */
const GRACE_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether this file system reports creation times (ext4 does through statx; tmpfs and FUSE may not). */
async function birthtimesWork(dir: string): Promise<boolean> {
  const probe = join(dir, 'birthtime-probe');
  await writeFile(probe, '');
  return (await stat(probe)).birthtimeMs > 0;
}

/** Creates a file, then lets the clock pass `ms` beyond its creation time: later files are clearly younger. */
async function fileOlderBy(path: string, content: string, ms: number): Promise<number> {
  await writeFile(path, content);
  const born = (await stat(path)).birthtimeMs;
  while (Date.now() <= born + ms) await sleep(ms / 4);
  return born;
}

async function isSealed(path: string): Promise<boolean> {
  return (await inspectFile(path).catch(() => undefined))?.kind === 'exitseal';
}

/** The agent's sealing pipeline, with the stick reported to the engine the way a platform source would. */
class Pipeline {
  readonly db: AgentDatabase;
  readonly outbox: EventOutbox;
  readonly journal: JobJournal;
  readonly registry: VolumeRegistry;
  readonly logger = new MemoryLogger();
  readonly engine: SealingEngine;

  constructor(dir: string, zone: ZoneKeys, options: { graceMs: number; settleMs?: number }) {
    const config = validateAgentConfig(baseConfig(join(dir, 'data'), zone));
    this.db = AgentDatabase.open(join(dir, 'agent.db'));
    this.journal = new JobJournal(this.db);
    this.outbox = new EventOutbox(this.db);
    this.registry = new VolumeRegistry(this.db);
    const policy = new LocalPolicySource(config.localPolicy!);
    const notifier = new RecentNotices(this.logger);
    const processor = new ExportProcessor({
      db: this.db,
      journal: this.journal,
      outbox: this.outbox,
      policy,
      quarantine: new Quarantine(join(dir, 'quarantine')),
      notifier,
      logger: this.logger,
      host: 'test-pc',
      osUserOf: () => Promise.resolve('hanako'),
    });
    this.engine = new SealingEngine(
      policy,
      { processor, journal: this.journal, registry: this.registry, logger: this.logger, settleMs: options.settleMs ?? 40, concurrency: 2, arrivalGraceMs: options.graceMs },
      notifier,
      this.logger,
    );
  }

  async settled(): Promise<void> {
    await sleep(120);
    await waitFor('the engine to go idle', () => (this.engine.isIdle() ? true : undefined), 30_000);
  }

  sealedPaths(): string[] {
    return this.outbox
      .all()
      .map((stored) => stored.event)
      .filter((event) => event.action === 'sealed')
      .map((event) => event.mediaPath ?? '')
      .sort();
  }

  private stopped = false;

  /** Stops like a service stop or a crash: the registry still has the stick as mounted. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.engine.stop();
    this.db.close();
  }
}

interface StickContext {
  readonly dir: string;
  readonly zone: ZoneKeys;
  readonly stick: string;
  /** A pipeline that is stopped at the end of the test even when an assertion fails (no watch left open). */
  readonly pipeline: (options: { graceMs: number; settleMs?: number }) => Pipeline;
}

/** A temp dir with an (empty) stick directory; skipped, saying so, where the file system has no creation times. */
async function onStick(t: TestContext, fn: (context: StickContext) => Promise<void>): Promise<void> {
  await inTempDir(async (dir) => {
    if (!(await birthtimesWork(dir))) {
      t.skip(`SKIPPED: the file system of ${dir} reports no creation times`);
      return;
    }
    const zone = await makeZone(dir, 'lgwan');
    const stick = join(dir, 'stick');
    await mkdir(stick);
    const pipelines: Pipeline[] = [];
    try {
      await fn({
        dir,
        zone,
        stick,
        pipeline: (options) => {
          const pipeline = new Pipeline(dir, zone, options);
          pipelines.push(pipeline);
          return pipeline;
        },
      });
    } finally {
      for (const pipeline of pipelines) await pipeline.stop();
    }
  });
}

function stickVolume(root: string, mountToken: string, firstSeenAt: number | undefined): VolumeInfo {
  return { mountPoint: root, bus: 'usb', usb: { vendorId: '0781', productId: '5567', serial: 'ARRIVAL-1' }, label: 'STICK', mountToken, firstSeenAt };
}

describe('the arrival rule (copiedSinceArrival)', () => {
  const window = { firstSeenAt: 1_000_000, seenAt: 1_002_000, graceMs: 5_000 };

  test('created before the drive was first seen (less the grace): baseline; at or after that: copied here', () => {
    assert.equal(copiedSinceArrival(window.firstSeenAt - 5_001, window), false);
    assert.equal(copiedSinceArrival(window.firstSeenAt - 5_000, window), true);
    assert.equal(copiedSinceArrival(window.firstSeenAt + 500, window), true);
    assert.equal(copiedSinceArrival(window.seenAt, window), true);
  });

  test('a creation time after the scan itself (another clock or time zone) says nothing about arrival: baseline', () => {
    assert.equal(copiedSinceArrival(window.seenAt + 5_000, window), true);
    assert.equal(copiedSinceArrival(window.seenAt + 5_001, window), false);
    assert.equal(copiedSinceArrival(window.seenAt + 3_600_000, window), false);
  });

  test('no creation time (0, as FUSE and older kernels report) falls back to baseline', () => {
    assert.equal(copiedSinceArrival(0, window), false);
    assert.equal(copiedSinceArrival(Number.NaN, window), false);
    assert.equal(copiedSinceArrival(0, { ...window, firstSeenAt: 0, graceMs: 0 }), false);
  });

  test('the default grace is 5 s', () => {
    assert.equal(ARRIVAL_GRACE_MS, 5_000);
  });

  test('on real files of the local file system: one created before the arrival is baseline, one created after is not', async (t) => {
    await inTempDir(async (dir) => {
      if (!(await birthtimesWork(dir))) {
        t.skip(`SKIPPED: the file system of ${dir} reports no creation times`);
        return;
      }
      await fileOlderBy(join(dir, 'old.txt'), 'on the stick before', GRACE_MS + 50);
      const firstSeenAt = Date.now();
      await writeFile(join(dir, 'new.txt'), 'copied while the drive was being described');
      const seenAt = Date.now();
      const rule = { firstSeenAt, seenAt, graceMs: GRACE_MS };
      assert.equal(copiedSinceArrival((await stat(join(dir, 'old.txt'))).birthtimeMs, rule), false, 'old.txt is baseline');
      assert.equal(copiedSinceArrival((await stat(join(dir, 'new.txt'))).birthtimeMs, rule), true, 'new.txt was copied here');
    });
  });
});

describe('sealing engine: files copied before the stick was watched', () => {
  test('a file copied between the arrival and the baseline is sealed; the stick\'s own files are left alone and stay the baseline', async (t) => {
    await onStick(t, async ({ stick, pipeline: start }) => {
      await mkdir(join(stick, 'old'));
      await writeFile(join(stick, 'old', 'photo.jpg'), 'brought from home');
      await fileOlderBy(join(stick, 'notes.txt'), 'brought from home too', GRACE_MS + 50);
      const firstSeenAt = Date.now(); // the drive letter appears; the identity query starts
      await mkdir(join(stick, 'early'));
      await writeFile(join(stick, 'budget.xlsx'), 'copied during the identity query');
      await writeFile(join(stick, 'early', 'plan.docx'), 'copied during the identity query too');

      const pipeline = start({ graceMs: GRACE_MS });
      await pipeline.engine.mounted(stickVolume(stick, 'm1', firstSeenAt));
      await writeFile(join(stick, 'later.txt'), 'copied once watched');
      await pipeline.settled();

      assert.deepEqual(pipeline.sealedPaths(), ['budget.xlsx', 'early/plan.docx', 'later.txt']);
      for (const rel of ['budget.xlsx', 'early/plan.docx', 'later.txt']) assert.ok(await isSealed(join(stick, rel)), `${rel} is sealed`);
      assert.equal(await readFile(join(stick, 'notes.txt'), 'utf8'), 'brought from home too');
      assert.equal(await readFile(join(stick, 'old', 'photo.jpg'), 'utf8'), 'brought from home');
      const watching = pipeline.logger.lines.find((line) => line.message === 'watching');
      assert.deepEqual([watching?.fields?.baselineFiles, watching?.fields?.copiedSinceArrival], [2, 2]);
      await pipeline.stop();
    });
  });

  test('without an arrival time (a declared directory) files there at the start stay baseline, as before', async (t) => {
    await onStick(t, async ({ stick, pipeline: start }) => {
      await writeFile(join(stick, 'there.txt'), 'there when watching started');
      const pipeline = start({ graceMs: GRACE_MS });
      await pipeline.engine.mounted(stickVolume(stick, 'm1', undefined));
      await pipeline.settled();
      assert.deepEqual(pipeline.sealedPaths(), []);
      assert.equal(await readFile(join(stick, 'there.txt'), 'utf8'), 'there when watching started');
      await pipeline.stop();
    });
  });

  test('an agent stopped before sealing such a file: it is not in the stored baseline, and the restart on the same mount seals it, leaving the old files alone', async (t) => {
    await onStick(t, async ({ stick, pipeline: start }) => {
      await fileOlderBy(join(stick, 'old.txt'), 'the stick\'s own', GRACE_MS + 50);
      const firstSeenAt = Date.now();
      await writeFile(join(stick, 'early.txt'), 'copied during the identity query');

      // Settling never ends before the stop: the agent goes down with early.txt still plaintext.
      let pipeline = start({ graceMs: GRACE_MS, settleMs: 3_600_000 });
      await pipeline.engine.mounted(stickVolume(stick, 'm1', firstSeenAt));
      const stored = pipeline.registry.continuingBaseline('usb:0781:5567:ARRIVAL-1', 'm1');
      assert.deepEqual([...(stored?.keys() ?? [])], ['old.txt'], 'the stored baseline holds only the stick\'s own file');
      assert.equal(pipeline.journal.count(), 1, 'early.txt is journalled');
      await pipeline.stop();
      assert.equal(await readFile(join(stick, 'early.txt'), 'utf8'), 'copied during the identity query');

      // Restart on the same mount, with a grace so wide that creation times alone would take old.txt for new:
      // the stored baseline decides, not creation times.
      pipeline = start({ graceMs: 3_600_000 });
      await pipeline.engine.mounted(stickVolume(stick, 'm1', Date.now()));
      await pipeline.settled();
      assert.deepEqual(pipeline.sealedPaths(), ['early.txt']);
      assert.equal(await readFile(join(stick, 'old.txt'), 'utf8'), 'the stick\'s own');
      assert.equal(pipeline.journal.count(), 0);
      await pipeline.stop();
    });
  });

  test('a stick reinserted (a new mount) just after the agent sealed files on it: its own sealed files are not sealed or logged again', async (t) => {
    await onStick(t, async ({ stick, pipeline: start }) => {
      await fileOlderBy(join(stick, 'old.txt'), 'the stick\'s own', GRACE_MS + 50);
      let pipeline = start({ graceMs: GRACE_MS });
      const volume = stickVolume(stick, 'm1', Date.now());
      await pipeline.engine.mounted(volume);
      await writeFile(join(stick, 'report.pdf'), 'copied once watched');
      await pipeline.settled();
      assert.deepEqual(pipeline.sealedPaths(), ['report.pdf']);
      const sealedBytes = await readFile(join(stick, 'report.pdf'));
      const sealedBorn = (await stat(join(stick, 'report.pdf'))).birthtimeMs;
      await pipeline.engine.unmounted(volume);
      await pipeline.stop();

      // Pulled and put back at once: the sealed file (created by the seal's rename) lies within the window.
      pipeline = start({ graceMs: GRACE_MS });
      await pipeline.engine.mounted(stickVolume(stick, 'm2', sealedBorn));
      await pipeline.settled();
      const watching = pipeline.logger.lines.find((line) => line.message === 'watching');
      assert.equal(watching?.fields?.copiedSinceArrival, 1, 'report.pdf was looked at again');
      assert.ok((await readFile(join(stick, 'report.pdf'))).equals(sealedBytes), 'report.pdf is unchanged');
      assert.equal(await readFile(join(stick, 'old.txt'), 'utf8'), 'the stick\'s own');
      assert.equal(pipeline.outbox.all().length, 1, 'no event beside the first seal');
      assert.equal(pipeline.journal.count(), 0);
      await pipeline.stop();
    });
  });
});
