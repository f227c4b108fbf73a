import { readdir } from 'node:fs/promises';
import { MAX_BACKLOG_COUNT, type AgentBacklog } from '@exitseal/core/wire';
import { errorFields, type Logger } from '../logging/logger.js';
import type { BacklogSource } from '../server/policy-server-api.js';
import type { EventOutbox } from '../storage/event-outbox.js';
import type { JobJournal } from '../storage/job-journal.js';

/** The quarantine folder is walked at most this often; the SQLite counts are read fresh every time. */
export const QUARANTINE_RECOUNT_MS = 60_000;

const clamp = (n: number): number => Math.min(Math.max(0, Math.floor(n)), MAX_BACKLOG_COUNT);

/** Regular files anywhere under `root` (0 when it does not exist yet: nothing was ever quarantined). */
export async function countFiles(root: string): Promise<number> {
  try {
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    return entries.filter((entry) => entry.isFile()).length;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export interface BacklogMeterOptions {
  readonly quarantineRecountMs?: number;
  readonly now?: () => number;
}

/**
 * What this agent has not finished, for the server's Agents page: events in the outbox not yet uploaded,
 * seal jobs still in the journal, files moved into the local quarantine folder (they stay there until an
 * administrator deals with them on the PC). Sent with every poll and upload (PolicyServerApi.reportBacklog).
 */
export class AgentBacklogMeter implements BacklogSource {
  private quarantine: { count: number; at: number } | undefined;
  private readonly recountMs: number;
  private readonly now: () => number;

  constructor(
    private readonly outbox: Pick<EventOutbox, 'pendingCount'>,
    private readonly journal: Pick<JobJournal, 'count'>,
    private readonly quarantineDir: string,
    private readonly logger: Logger,
    options: BacklogMeterOptions = {},
  ) {
    this.recountMs = options.quarantineRecountMs ?? QUARANTINE_RECOUNT_MS;
    this.now = options.now ?? Date.now;
  }

  async current(): Promise<AgentBacklog> {
    return {
      outboxEvents: clamp(this.outbox.pendingCount()),
      pendingJobs: clamp(this.journal.count()),
      quarantinedFiles: clamp(await this.quarantinedFiles()),
    };
  }

  /** A folder that cannot be read keeps the last count (0 before any): the report must not stop a poll. */
  private async quarantinedFiles(): Promise<number> {
    const now = this.now();
    if (this.quarantine !== undefined && now - this.quarantine.at < this.recountMs) return this.quarantine.count;
    try {
      this.quarantine = { count: await countFiles(this.quarantineDir), at: now };
    } catch (error) {
      this.logger.warn('cannot count the quarantine folder for the backlog report', { ...errorFields(error), dir: this.quarantineDir });
      this.quarantine = { count: this.quarantine?.count ?? 0, at: now };
    }
    return this.quarantine.count;
  }
}
