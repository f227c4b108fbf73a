import { randomUUID } from 'node:crypto';
import { chainEvent, computeEventHash, GENESIS_HASH, type ExportEvent } from '@exitseal/core/wire';
import type { AgentDatabase, SqlStatement } from './database.js';

/** What a caller says about an export; the outbox adds the id, the time and the hash chain. */
export type ExportEventInput = Omit<ExportEvent, 'eventId' | 'occurredAt' | 'prevHash' | 'hash'>;

export interface StoredEvent {
  readonly seq: number;
  readonly event: ExportEvent;
  readonly uploaded: boolean;
}

interface EventRow {
  seq: number;
  body: string;
  uploaded: number;
}

/**
 * The local export log: every seal, block, failure, quarantine and open, chained by the agent's own SHA-256
 * hash (the chain the server verifies, from core/wire) and kept until uploaded. Uploading is the server
 * engineer's part; this outbox hands out batches in order and marks them sent.
 */
export class EventOutbox {
  private readonly lastHash: SqlStatement;
  private readonly insert: SqlStatement;
  private readonly recentRows: SqlStatement;
  private readonly pendingRows: SqlStatement;
  private readonly markRow: SqlStatement;
  private readonly allRows: SqlStatement;
  private readonly countPending: SqlStatement;

  constructor(
    private readonly db: AgentDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.lastHash = db.prepare('SELECT hash FROM events ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare('INSERT INTO events (event_id, occurred_at, action, body, hash) VALUES (?, ?, ?, ?, ?)');
    this.recentRows = db.prepare('SELECT seq, body, uploaded FROM events ORDER BY seq DESC LIMIT ?');
    this.pendingRows = db.prepare('SELECT seq, body, uploaded FROM events WHERE uploaded = 0 ORDER BY seq LIMIT ?');
    this.markRow = db.prepare('UPDATE events SET uploaded = 1 WHERE seq = ?');
    this.allRows = db.prepare('SELECT seq, body, uploaded FROM events ORDER BY seq');
    this.countPending = db.prepare('SELECT COUNT(*) AS n FROM events WHERE uploaded = 0');
  }

  /** Appends one event to the chain. Call inside a caller's transaction to commit it with related state. */
  append(input: ExportEventInput): ExportEvent {
    return this.db.transaction(() => {
      const previous = (this.lastHash.get() as { hash: string } | undefined)?.hash ?? GENESIS_HASH;
      const event = chainEvent(previous, { ...input, eventId: randomUUID(), occurredAt: this.now().toISOString() });
      this.insert.run(event.eventId, event.occurredAt, event.action, JSON.stringify(event), event.hash);
      return event;
    });
  }

  /** Newest first. */
  recent(limit: number): StoredEvent[] {
    return (this.recentRows.all(limit) as EventRow[]).map(toStored);
  }

  /** The oldest events not yet uploaded, in chain order. */
  pendingBatch(limit: number): StoredEvent[] {
    return (this.pendingRows.all(limit) as EventRow[]).map(toStored);
  }

  markUploaded(seqs: readonly number[]): void {
    this.db.transaction(() => {
      for (const seq of seqs) this.markRow.run(seq);
    });
  }

  pendingCount(): number {
    return (this.countPending.get() as { n: number }).n;
  }

  all(): StoredEvent[] {
    return (this.allRows.all() as EventRow[]).map(toStored);
  }

  /** Re-computes the chain; returns the seq of the first event that does not link or hash, or null if intact. */
  verifyChain(): number | null {
    let previous = GENESIS_HASH;
    for (const { seq, event } of this.all()) {
      if (event.prevHash !== previous || computeEventHash(event) !== event.hash) return seq;
      previous = event.hash;
    }
    return null;
  }
}

function toStored(row: EventRow): StoredEvent {
  return { seq: row.seq, event: JSON.parse(row.body) as ExportEvent, uploaded: row.uploaded === 1 };
}
