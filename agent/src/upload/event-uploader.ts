import { MAX_EVENTS_PER_BATCH } from '@exitseal/core/wire';
import type { Logger } from '../logging/logger.js';
import { isRetryable, ServerRequestError, type PolicyServerApi } from '../server/policy-server-api.js';
import { Backoff, ThrottledErrorLog } from '../server/retry.js';
import type { EventOutbox } from '../storage/event-outbox.js';

export interface UploaderOptions {
  readonly batchSize: number;
  /** How often to look for new events when the outbox is empty. */
  readonly idleMs: number;
  readonly retryMaxMs: number;
}

/**
 * Sends the export log to the server, oldest first, in batches. An event is marked uploaded only after the
 * server confirmed the batch; if the agent dies in between, the batch is sent again and the server, which
 * keys events by their UUID, counts the repeats as duplicates: every event arrives exactly once. The outbox
 * is SQLite, so a long outage (or a restart during one) loses nothing.
 */
export class EventUploader {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private round: Promise<void> | undefined;
  private batchSize: number;
  private readonly backoff: Backoff;
  private readonly errors: ThrottledErrorLog;
  private wakeRequested = false;
  readonly totals = { uploaded: 0, duplicates: 0, batches: 0 };

  constructor(
    private readonly outbox: EventOutbox,
    private readonly api: Pick<PolicyServerApi, 'uploadEvents'>,
    private readonly options: UploaderOptions,
    private readonly logger: Logger,
  ) {
    this.batchSize = Math.min(options.batchSize, MAX_EVENTS_PER_BATCH);
    this.backoff = new Backoff(500, options.retryMaxMs);
    this.errors = new ThrottledErrorLog(logger, 'event upload failed');
  }

  start(): void {
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.round;
  }

  /** New events were logged: upload soon rather than at the next idle check. */
  wake(): void {
    if (!this.running || this.round) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  pending(): number {
    return this.outbox.pendingCount();
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.round = this.uploadAll()
        .then((nextDelay) => {
          this.round = undefined;
          const delay = this.wakeRequested && nextDelay === this.options.idleMs ? 0 : nextDelay;
          this.wakeRequested = false;
          this.schedule(delay);
        });
    }, delayMs);
  }

  /** Uploads until the outbox is empty or a call fails; returns how long to wait before the next round. */
  private async uploadAll(): Promise<number> {
    while (this.running) {
      const batch = this.outbox.pendingBatch(this.batchSize);
      if (batch.length === 0) return this.options.idleMs;
      try {
        const result = await this.api.uploadEvents(batch.map((stored) => stored.event));
        this.outbox.markUploaded(batch.map((stored) => stored.seq));
        this.totals.uploaded += result.accepted;
        this.totals.duplicates += result.duplicates;
        this.totals.batches++;
        this.backoff.reset();
        this.errors.recovered({ pending: this.outbox.pendingCount() });
      } catch (error) {
        if (error instanceof ServerRequestError && error.status === 413 && this.batchSize > 1) {
          // The server's body limit is smaller than our batch: halve it and go on at once.
          this.batchSize = Math.max(1, Math.floor(this.batchSize / 2));
          this.logger.warn('the server refused a batch as too large: smaller batches from now on', { batchSize: this.batchSize });
          continue;
        }
        this.errors.failed(error, { pending: this.outbox.pendingCount(), retryable: isRetryable(error) });
        // A refused batch (4xx) is kept, never dropped: an administrator must see it, so it is retried slowly.
        return isRetryable(error) ? this.backoff.nextDelayMs() : this.options.retryMaxMs;
      }
    }
    return this.options.idleMs;
  }
}
