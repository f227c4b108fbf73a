import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { newFileId } from '@exitseal/core';
import type { ExportAction } from '@exitseal/core/wire';
import { FileOperationError, toFileOperationError } from '../files/errors.js';
import { inspectFile, sealFile } from '../files/sealed-file-io.js';
import { errorFields, type Logger } from '../logging/logger.js';
import type { PolicySource } from '../policy/agent-policy.js';
import type { AgentDatabase } from '../storage/database.js';
import type { EventOutbox, ExportEventInput } from '../storage/event-outbox.js';
import type { Job, JobJournal } from '../storage/job-journal.js';
import type { ReleaseGate } from '../requests/release-gate.js';
import type { UserNotifier } from './notifier.js';
import type { Quarantine } from './quarantine.js';
import type { AreaMode, WatchedArea } from './watched-area.js';

type EventDetails = Pick<ExportEventInput, 'action' | 'size' | 'sha256' | 'fileId' | 'keyVersion' | 'reason'>;

/** What became of one job; the session uses it to decide whether to look at the file again. */
export type Outcome =
  | 'sealed'
  | 'already-sealed'
  | 'gone'
  | 'quarantined'
  | 'allowed'
  /** The file changed under us: look again once it settles. */
  | 'changed'
  /** The volume went away: the job stays in the journal for the next insertion. */
  | 'media-gone'
  | 'failed';

export interface ProcessorContext {
  readonly db: AgentDatabase;
  readonly journal: JobJournal;
  readonly outbox: EventOutbox;
  readonly policy: PolicySource;
  readonly quarantine: Quarantine;
  readonly notifier: UserNotifier;
  readonly logger: Logger;
  readonly host: string;
  /** Whom an export is attributed to. */
  readonly osUserOf: (path: string) => Promise<string>;
  /** Approved plaintext releases (only with a policy server). */
  readonly releases?: ReleaseGate;
}

/**
 * Decides and does what one journalled file needs: seal it in place, move it off the media, or log it as
 * allowed; and records the outcome as an export event in the same transaction that closes the job.
 */
export class ExportProcessor {
  constructor(private readonly context: ProcessorContext) {}

  async process(area: WatchedArea, mode: AreaMode, job: Job): Promise<Outcome> {
    const path = join(area.root, ...job.relPath.split('/'));
    const stats = await stat(path).catch(() => undefined);
    if (!stats?.isFile()) {
      this.context.journal.finish(job);
      return 'gone';
    }
    const osUser = await this.context.osUserOf(path).catch(() => 'unknown');
    try {
      const kind = await this.kindOf(path);
      if (kind === 'exitseal') return await this.alreadySealed(area, job, path, osUser);
      switch (mode.kind) {
        case 'seal':
          return await this.seal(area, job, path, osUser);
        case 'remove':
          return await this.remove(area, job, path, osUser, 'blocked', `${mode.action}: ${mode.reason}`);
        case 'allow':
          this.finishWith(area, job, path, osUser, { action: 'allowed-plaintext', size: stats.size, reason: 'channel allows plaintext' });
          return 'allowed';
      }
    } catch (error) {
      return this.failed(area, job, path, osUser, error);
    }
  }

  /** A header we cannot parse is treated as plaintext: sealing it loses nothing. */
  private async kindOf(path: string): Promise<'exitseal' | 'other'> {
    try {
      return (await inspectFile(path)).kind === 'exitseal' ? 'exitseal' : 'other';
    } catch (error) {
      if (error instanceof FileOperationError) throw error;
      return 'other';
    }
  }

  private async alreadySealed(area: WatchedArea, job: Job, path: string, osUser: string): Promise<Outcome> {
    const inspection = await inspectFile(path);
    const ourFileId = job.fileId ?? undefined;
    if (job.state === 'sealing' && ourFileId !== undefined && inspection.meta?.fileId === ourFileId) {
      // Our seal reached the disk but the agent stopped before logging it (crash, kill -9).
      const size = (await stat(path)).size;
      this.finishWith(area, job, path, osUser, {
        action: 'sealed',
        size,
        fileId: ourFileId,
        keyVersion: inspection.meta.keyVersion,
        reason: 'sealed before an agent restart; plaintext size and hash were not recorded (size is the sealed size)',
      });
      return 'sealed';
    }
    this.context.journal.finish(job);
    return 'already-sealed';
  }

  private async seal(area: WatchedArea, job: Job, path: string, osUser: string): Promise<Outcome> {
    const release = await this.context.releases?.check(path, osUser);
    if (release) {
      this.finishWith(area, job, path, osUser, { action: 'released-plaintext', size: release.size, sha256: release.sha256, reason: `approved release request ${release.requestId}` });
      this.context.notifier.notify('released', `${basename(path)} left in plaintext (approved release)`, [path], osUser);
      return 'allowed';
    }
    const policy = this.context.policy.current();
    const fileId = newFileId();
    this.context.journal.startSealing(job, fileId);
    const result = await sealFile(path, { outputPath: path }, { recipients: policy.sealRecipients, meta: { zoneId: policy.sealZoneId, keyVersion: policy.keyVersion, fileId } });
    this.finishWith(area, job, path, osUser, {
      action: 'sealed',
      size: result.plaintextBytes,
      sha256: result.sha256 ?? undefined,
      fileId,
      keyVersion: policy.keyVersion,
    });
    this.context.logger.debug('sealed', { volume: area.volumeKey, path: job.relPath, bytes: result.plaintextBytes });
    return 'sealed';
  }

  private async remove(area: WatchedArea, job: Job, path: string, osUser: string, action: ExportAction, reason: string): Promise<Outcome> {
    const moved = await this.context.quarantine.moveOff(path, area.volumeKey, job.relPath);
    const where = moved.removedFromMedia ? `moved to ${moved.quarantinePath}` : `copied to ${moved.quarantinePath} but could not be removed from the media`;
    this.finishWith(area, job, path, osUser, { action, size: moved.size, sha256: moved.sha256, reason: `${reason}; ${where}` });
    if (!moved.removedFromMedia) this.context.logger.warn('plaintext left on the media', { path: job.relPath, ...errorFields(moved.removalError) });
    this.context.notifier.notify(action === 'blocked' ? 'blocked' : 'quarantined', `${basename(path)}: ${reason}; the file was ${where}`, [path], osUser);
    return 'quarantined';
  }

  private async failed(area: WatchedArea, job: Job, path: string, osUser: string, caught: unknown): Promise<Outcome> {
    // A raw system error can escape the file layer (a close() failing after the volume vanished): name it too.
    const error = toFileOperationError(caught, path);
    const code = error instanceof FileOperationError ? error.code : undefined;
    switch (code) {
      case 'SOURCE_CHANGED':
        this.context.journal.recordFailure(job, 'SOURCE_CHANGED');
        return 'changed';
      case 'SOURCE_VANISHED':
        this.context.journal.finish(job);
        return 'gone';
      case 'MEDIA_GONE':
        this.context.journal.recordFailure(job, 'MEDIA_GONE');
        this.context.logger.warn('volume gone while sealing: the job waits for the same volume', { volume: area.volumeKey, path: job.relPath });
        return 'media-gone';
      case 'NO_SPACE':
        try {
          return await this.remove(area, job, path, osUser, 'quarantined', 'no space on the media to seal it');
        } catch (quarantineError) {
          return this.gaveUp(area, job, path, osUser, quarantineError);
        }
      default:
        return this.gaveUp(area, job, path, osUser, error);
    }
  }

  /** Logged as a failed export; the job stays in the journal and is tried again at the next insertion. */
  private gaveUp(area: WatchedArea, job: Job, path: string, osUser: string, error: unknown): Outcome {
    const fields = errorFields(error);
    const code = typeof fields.code === 'string' ? fields.code : 'ERROR';
    const reason = `${code}: ${typeof fields.error === 'string' ? fields.error : 'unknown error'}`;
    this.context.logger.error('could not seal a file', { volume: area.volumeKey, path: job.relPath, ...fields });
    this.context.db.transaction(() => {
      this.context.journal.recordFailure(job, reason);
      this.context.outbox.append(this.eventFor(area, job, path, osUser, { action: 'failed', size: 0, reason }));
    });
    this.context.notifier.notify('failed', `${basename(path)} could not be sealed (${code}); it is still plaintext on the media`, [path], osUser);
    return 'failed';
  }

  private finishWith(area: WatchedArea, job: Job, path: string, osUser: string, details: EventDetails): void {
    this.context.db.transaction(() => {
      this.context.journal.finish(job);
      this.context.outbox.append(this.eventFor(area, job, path, osUser, details));
    });
  }

  private eventFor(area: WatchedArea, job: Job, path: string, osUser: string, details: EventDetails): ExportEventInput {
    const policy = this.context.policy.current();
    return {
      host: this.context.host,
      osUser,
      zoneId: policy.zoneId,
      channel: area.channel,
      device: area.device,
      fileName: basename(path),
      mediaPath: job.relPath,
      ...details,
      reason: details.reason?.slice(0, 2048),
    };
  }
}
