import type { LogAnchor, LogName, Store } from '../storage/store.js';
import type { Clock } from './clock.js';

/** Where a copy of the chain heads goes outside the database (the server log, the SIEM). */
export interface ChainHeadSink {
  publish(log: LogName, head: { readonly seq: number; readonly headHash: string }, at: string): void;
}

/**
 * Writes each log's anchored head outside the database now and then. The anchor inside the database shows
 * rows deleted at the end of a log, but not a rollback of the whole database file (rows and anchor) to an
 * older copy: a head seen earlier outside, with a seq the log no longer reaches or a hash it no longer has,
 * shows that. Nothing secret is written (a sequence number and an HMAC value).
 */
export class ChainHeadPublisher {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly sinks: readonly ChainHeadSink[],
  ) {}

  async publish(): Promise<void> {
    const at = this.clock.now().toISOString();
    const heads: [LogName, LogAnchor | null][] = [
      ['export', await this.store.events.anchor()],
      ['audit', await this.store.audit.anchor()],
    ];
    for (const [log, anchor] of heads) {
      if (anchor === null) continue;
      for (const sink of this.sinks) sink.publish(log, { seq: anchor.seq, headHash: anchor.headHash }, at);
    }
  }
}
