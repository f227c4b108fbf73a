import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isTempFileName } from '../files/atomic-write.js';
import { errorFields, type Logger } from '../logging/logger.js';
import type { JobJournal } from '../storage/job-journal.js';
import type { BaselineEntry, VolumeRegistry } from '../storage/volume-registry.js';
import type { ExportProcessor } from './export-processor.js';
import { watchTree, type TreeWatch } from './tree-watcher.js';
import type { AreaMode, WatchedArea } from './watched-area.js';
import { KeyedWorkQueue } from './work-queue.js';

export interface SessionDependencies {
  readonly processor: ExportProcessor;
  readonly journal: JobJournal;
  readonly registry: VolumeRegistry;
  readonly logger: Logger;
  /** A file is processed once no write to it was seen for this long. */
  readonly settleMs: number;
  readonly concurrency: number;
  /** Slack around a stick's arrival time when judging creation times (default ARRIVAL_GRACE_MS). */
  readonly arrivalGraceMs?: number;
}

/**
 * How far before the moment a drive was first seen a file's creation time may lie and the file still count
 * as copied here. It covers how late the drive can be seen after it appears (a poll interval: 250 ms, or 2 s
 * on Windows and macOS while USB hot-plug events work), the 10 ms steps of FAT/exFAT creation times and clock
 * reading granularity. A stick filled on another PC and plugged in here within this time has those files
 * sealed too: the safe side.
 */
export const ARRIVAL_GRACE_MS = 5_000;

/** When a stick arrived, when its first scan saw a file, and the slack around both (see copiedSinceArrival). */
export interface ArrivalWindow {
  readonly firstSeenAt: number;
  readonly seenAt: number;
  readonly graceMs: number;
}

/**
 * Whether a file found on a stick as watching starts was copied there after the drive appeared, judged by its
 * creation time on the volume (`birthtimeMs`). Windows sets it to the time of the copy on FAT, exFAT and NTFS
 * (Explorer's copy carries over only the modification time), and so do Linux's own vfat and exfat drivers;
 * such a file is new, not baseline. A creation time later than the scan itself (plus the slack) comes from a
 * clock or time zone other than ours (FAT stores local time), so it says nothing about arrival here. A
 * birthtime of 0 means the platform or file system reports none (FUSE file systems such as exfat-fuse, older
 * kernels): the file is baseline, as it was before creation times were looked at. Not caught either way: a
 * file MOVED to the stick across volumes or one overwritten in place (both keep their old creation time), and
 * a copy tool that carries the creation time over (macOS Finder is said to).
 */
export function copiedSinceArrival(birthtimeMs: number, window: ArrivalWindow): boolean {
  if (!(birthtimeMs > 0)) return false;
  return birthtimeMs >= window.firstSeenAt - window.graceMs && birthtimeMs <= window.seenAt + window.graceMs;
}

interface Snapshot {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

/**
 * Watches one area (a mounted stick or an outbound folder) from the moment it appears until it goes:
 *  - files there at the start are the baseline: on a stick they are left alone; in an outbound folder
 *    (`existingFiles: 'process'`) they are all processed the first time. On a stick, a file created since
 *    the drive was first seen (`area.firstSeenAt`: the drive is watched only after it was described, which
 *    takes about a second on Windows) is not baseline but processed like any new file (copiedSinceArrival).
 *    When the agent resumes the same
 *    mount after a restart, anything that differs from the stored baseline is new (files it sealed itself
 *    differ too, and are recognised as sealed and left alone);
 *  - every file written afterwards is journalled at once, then processed when writes to it have settled;
 *  - jobs left in the journal from an earlier insertion of this volume are resumed;
 *  - temp files left by an interrupted seal are removed (the original is still in place beside them).
 */
export class AreaSession {
  private watch: TreeWatch | undefined;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly journalled = new Set<string>();
  /** What our own seals left behind: the rename over the original shows up as a write we must not chase. */
  private readonly ourOutput = new Map<string, Snapshot>();
  private readonly initial = new Map<string, BaselineEntry>();
  /** Files of the first scan created since the stick arrived: processed, not baseline. */
  private readonly arrivedSince = new Set<string>();
  private readonly queue: KeyedWorkQueue;
  private stopped = false;
  private mediaGone = false;
  private readonly pendingChecks = new Set<Promise<void>>();
  readonly counts = { sealed: 0, quarantined: 0, failed: 0, skipped: 0 };

  constructor(
    readonly area: WatchedArea,
    private mode: AreaMode,
    private readonly deps: SessionDependencies,
  ) {
    this.queue = new KeyedWorkQueue(deps.concurrency);
  }

  /** Resolves once the baseline is taken and resumed jobs are scheduled. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let started = false;
      this.watch = watchTree(this.area.root, {
        existing: (relPath, stats) => {
          if (isTempFileName(relPath)) this.track(this.removeLeftover(relPath));
          else if (stats?.isFile()) {
            this.initial.set(relPath, { size: stats.size, mtimeMs: stats.mtimeMs });
            if (this.isArrival(stats.birthtimeMs)) this.arrivedSince.add(relPath);
          }
        },
        ready: () => {
          try {
            this.takeBaseline();
            started = true;
            resolve();
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        },
        written: (relPath) => {
          if (!isTempFileName(relPath)) this.track(this.onWrite(relPath));
        },
        removed: () => undefined,
        error: (error) => {
          this.deps.logger.warn('watch error', { root: this.area.root, ...errorFields(error) });
          if (!started) reject(error instanceof Error ? error : new Error(String(error)));
        },
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.watch?.close();
    await Promise.allSettled([...this.pendingChecks]);
    await this.queue.stop();
  }

  /** A new policy: files processed from now on get the new treatment. */
  setMode(mode: AreaMode): void {
    this.mode = mode;
  }

  currentMode(): AreaMode {
    return this.mode;
  }

  /** True when nothing is waiting to settle or being processed (for tests, benchmarks and the tray's status). */
  isIdle(): boolean {
    return this.timers.size === 0 && this.queue.size === 0 && this.pendingChecks.size === 0;
  }

  /** Whether a file the first scan sees now, created at `birthtimeMs`, was copied since the stick arrived. */
  private isArrival(birthtimeMs: number): boolean {
    const { firstSeenAt, existingFiles } = this.area;
    if (existingFiles !== 'baseline' || firstSeenAt === undefined) return false;
    return copiedSinceArrival(birthtimeMs, { firstSeenAt, seenAt: Date.now(), graceMs: this.deps.arrivalGraceMs ?? ARRIVAL_GRACE_MS });
  }

  private takeBaseline(): void {
    const { registry, journal, logger } = this.deps;
    // A stored baseline of this very mount (the agent restarted) was taken when the stick arrived: it is the
    // truth about what was there before, and anything since differs from it. Creation times are not needed
    // then, and would wrongly re-process files accepted into the baseline shortly before the restart.
    const stored = registry.continuingBaseline(this.area.volumeKey, this.area.mountToken);
    let candidates = 0;
    let arrived = 0;
    if (stored) {
      for (const [relPath, now] of this.initial) {
        const before = stored.get(relPath);
        if (!before || before.size !== now.size || before.mtimeMs !== now.mtimeMs) {
          this.schedule(relPath);
          candidates++;
        }
      }
    } else {
      // Files copied since the arrival stay out of the stored baseline: after a crash before their seal, a
      // restart on the same mount still sees them as new (the journal has them as well).
      for (const relPath of this.arrivedSince) this.initial.delete(relPath);
      registry.saveBaseline(this.area.volumeKey, this.area.mountToken, this.initial);
      if (this.area.existingFiles === 'process') {
        for (const relPath of this.initial.keys()) this.schedule(relPath);
        candidates = this.initial.size;
      }
      for (const relPath of this.arrivedSince) this.schedule(relPath);
      arrived = this.arrivedSince.size;
    }
    const resumed = journal.pendingFor(this.area.volumeKey).filter((job) => job.channel === this.area.channel);
    for (const job of resumed) this.schedule(job.relPath);
    logger.info('watching', {
      root: this.area.root,
      volume: this.area.volumeKey,
      channel: this.area.channel,
      mode: this.mode.kind,
      baselineFiles: stored ? stored.size : this.initial.size,
      resumedAfterRestart: stored !== undefined,
      changedSinceBaseline: candidates,
      copiedSinceArrival: arrived,
      resumedJobs: resumed.length,
    });
    this.initial.clear();
    this.arrivedSince.clear();
  }

  private track(work: Promise<void>): void {
    this.pendingChecks.add(work);
    void work.finally(() => this.pendingChecks.delete(work));
  }

  private async removeLeftover(relPath: string): Promise<void> {
    try {
      await unlink(this.pathOf(relPath));
      this.deps.logger.info('removed a temp file left by an interrupted seal', { root: this.area.root, path: relPath });
    } catch (error) {
      this.deps.logger.warn('could not remove a leftover temp file', { root: this.area.root, path: relPath, ...errorFields(error) });
    }
  }

  private async onWrite(relPath: string): Promise<void> {
    const ours = this.ourOutput.get(relPath);
    if (ours) {
      const now = await stat(this.pathOf(relPath)).catch(() => undefined);
      if (now && now.size === ours.size && now.mtimeMs === ours.mtimeMs && now.ino === ours.ino) return;
      this.ourOutput.delete(relPath);
    }
    this.schedule(relPath);
  }

  private schedule(relPath: string): void {
    if (this.stopped || this.mediaGone) return;
    if (!this.journalled.has(relPath)) {
      // Journalled at first sight: if the stick is pulled before the seal, the job waits for its return.
      this.deps.journal.record(this.area.volumeKey, relPath, this.area.channel);
      this.journalled.add(relPath);
    }
    const previous = this.timers.get(relPath);
    if (previous) clearTimeout(previous);
    this.timers.set(
      relPath,
      setTimeout(() => {
        this.timers.delete(relPath);
        this.queue.push(relPath, () => this.run(relPath));
      }, this.deps.settleMs),
    );
  }

  private async run(relPath: string): Promise<void> {
    if (this.stopped || this.mediaGone) return;
    const { journal, processor, logger } = this.deps;
    const job = journal.find(this.area.volumeKey, relPath) ?? journal.record(this.area.volumeKey, relPath, this.area.channel);
    let outcome;
    try {
      outcome = await processor.process(this.area, this.mode, job);
    } catch (error) {
      // The processor logs its own failures; anything reaching here is a fault (e.g. the database).
      logger.error('processing a file failed', { root: this.area.root, path: relPath, ...errorFields(error) });
      return;
    }
    this.journalled.delete(relPath);
    if (outcome === 'sealed' || outcome === 'already-sealed' || outcome === 'allowed') {
      const after = await stat(this.pathOf(relPath)).catch(() => undefined);
      if (after) {
        if (outcome === 'sealed') this.ourOutput.set(relPath, { size: after.size, mtimeMs: after.mtimeMs, ino: after.ino });
        this.deps.registry.acceptIntoBaseline(this.area.volumeKey, relPath, { size: after.size, mtimeMs: after.mtimeMs });
      }
    }
    switch (outcome) {
      case 'sealed':
        this.counts.sealed++;
        break;
      case 'quarantined':
        this.counts.quarantined++;
        break;
      case 'failed':
        this.counts.failed++;
        break;
      case 'changed':
        this.schedule(relPath);
        break;
      case 'media-gone':
        this.mediaGone = true;
        break;
      default:
        this.counts.skipped++;
    }
  }

  private pathOf(relPath: string): string {
    return join(this.area.root, ...relPath.split('/'));
  }
}
