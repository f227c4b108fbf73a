import type { AgentDatabase, SqlStatement } from './database.js';

export type JobChannel = 'removableMedia' | 'outboundFolders';

export interface Job {
  readonly id: number;
  readonly volumeKey: string;
  /** Relative to the volume root, with "/" separators: a stick may mount elsewhere next time. */
  readonly relPath: string;
  readonly channel: JobChannel;
  /** "sealing" means a seal was started with `fileId`; after a crash the file may already carry it. */
  readonly state: 'pending' | 'sealing';
  readonly fileId: string | null;
  readonly attempts: number;
  readonly lastError: string | null;
}

interface JobRow {
  id: number;
  volume_key: string;
  rel_path: string;
  channel: JobChannel;
  state: 'pending' | 'sealing';
  file_id: string | null;
  attempts: number;
  last_error: string | null;
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    volumeKey: row.volume_key,
    relPath: row.rel_path,
    channel: row.channel,
    state: row.state,
    fileId: row.file_id,
    attempts: row.attempts,
    lastError: row.last_error,
  };
}

/**
 * The durable job journal: a file is recorded the moment the agent first sees it written, and leaves the
 * journal only when its outcome (sealed, quarantined, skipped) is logged. After a crash, a kill -9 or a
 * stick pulled out, whatever is still here is done again when the same volume is back.
 */
export class JobJournal {
  private readonly upsert: SqlStatement;
  private readonly byKey: SqlStatement;
  private readonly setSealing: SqlStatement;
  private readonly setFailed: SqlStatement;
  private readonly remove: SqlStatement;
  private readonly forVolume: SqlStatement;
  private readonly countAll: SqlStatement;

  constructor(
    db: AgentDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.upsert = db.prepare(
      `INSERT INTO jobs (volume_key, rel_path, channel, state, created_at, updated_at) VALUES (?, ?, ?, 'pending', ?, ?)
       ON CONFLICT (volume_key, rel_path) DO UPDATE SET updated_at = excluded.updated_at`,
    );
    this.byKey = db.prepare('SELECT * FROM jobs WHERE volume_key = ? AND rel_path = ?');
    this.setSealing = db.prepare(`UPDATE jobs SET state = 'sealing', file_id = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?`);
    this.setFailed = db.prepare(`UPDATE jobs SET state = 'pending', last_error = ?, updated_at = ? WHERE id = ?`);
    this.remove = db.prepare('DELETE FROM jobs WHERE id = ?');
    this.forVolume = db.prepare('SELECT * FROM jobs WHERE volume_key = ? ORDER BY id');
    this.countAll = db.prepare('SELECT COUNT(*) AS n FROM jobs');
  }

  /** Records that `relPath` needs sealing (idempotent: an existing job keeps its state and attempts). */
  record(volumeKey: string, relPath: string, channel: JobChannel): Job {
    const stamp = this.now().toISOString();
    this.upsert.run(volumeKey, relPath, channel, stamp, stamp);
    return toJob(this.byKey.get(volumeKey, relPath) as JobRow);
  }

  find(volumeKey: string, relPath: string): Job | undefined {
    const row = this.byKey.get(volumeKey, relPath) as JobRow | undefined;
    return row ? toJob(row) : undefined;
  }

  /** Called just before the seal starts, with the file id the sealed file will carry. */
  startSealing(job: Job, fileId: string): void {
    this.setSealing.run(fileId, this.now().toISOString(), job.id);
  }

  /** The attempt failed but the job stays, to be retried (same volume, later). Only a code and message: no content. */
  recordFailure(job: Job, reason: string): void {
    this.setFailed.run(reason.slice(0, 2048), this.now().toISOString(), job.id);
  }

  finish(job: Job): void {
    this.remove.run(job.id);
  }

  pendingFor(volumeKey: string): Job[] {
    return (this.forVolume.all(volumeKey) as JobRow[]).map(toJob);
  }

  count(): number {
    return (this.countAll.get() as { n: number }).n;
  }
}
