import { computeEventHash, type EventBatch, type EventBatchResult } from '@exitseal/core/wire';
import { badRequest } from '../errors.js';
import type { AgentRecord, EventFilter, EventRow, EventSortCursor, EventSortKey, Store } from '../storage/store.js';
import type { ChainReport, LogChain } from './chain.js';
import type { Clock } from './clock.js';

/** Where stored events go besides the database (the SIEM); never allowed to fail ingestion. */
export interface EventSink {
  forward(events: readonly EventRow[]): void;
}

export interface EventPage {
  readonly events: EventRow[];
  /** Default order: pass as `before` to get the next (older) page; absent on the last page. */
  readonly nextCursor?: number;
  /** Sorted search: pass as `after` to get the next page; absent on the last page. */
  readonly nextAfter?: string;
}

/** A sorted page's cursor as the API carries it: "<seq>:<sort value>" (the value may hold anything, seq is digits). */
export function formatSortCursor(row: EventRow, key: EventSortKey): string {
  return `${row.seq}:${row[key]}`;
}

export function parseSortCursor(text: string, key: EventSortKey): EventSortCursor {
  const match = /^([0-9]{1,15}):(.*)$/s.exec(text);
  if (match === null) throw badRequest('CURSOR_INVALID', 'after must be the nextAfter of a previous page');
  const seq = Number(match[1]);
  const raw = match[2] as string;
  if (key === 'seq' || key === 'size') {
    if (!/^[0-9]{1,15}$/.test(raw)) throw badRequest('CURSOR_INVALID', `after does not fit the sort by ${key}`);
    return { seq, value: Number(raw) };
  }
  return { seq, value: raw };
}

/** Export-log ingestion (idempotent by event id, chained), search and verification. */
export class EventService {
  constructor(
    private readonly store: Store,
    private readonly chain: LogChain,
    private readonly clock: Clock,
    private readonly sinks: readonly EventSink[],
  ) {}

  /**
   * Stores a batch from an agent. The whole batch is refused (nothing written) if any event's own hash does
   * not match its content or its time is not a real date; resent events are counted as duplicates.
   */
  async ingest(agent: AgentRecord, batch: EventBatch): Promise<EventBatchResult> {
    batch.events.forEach((event, index) => {
      if (computeEventHash(event) !== event.hash) throw badRequest('EVENT_HASH_MISMATCH', `events/${index}: hash does not match the event's content`);
      if (Number.isNaN(Date.parse(event.occurredAt))) throw badRequest('EVENT_TIME_INVALID', `events/${index}: occurredAt is not a real date`);
    });
    const rows = batch.events.map((e) => ({
      eventId: e.eventId,
      occurredAt: new Date(e.occurredAt).toISOString(),
      host: e.host,
      osUser: e.osUser,
      zoneId: e.zoneId,
      channel: e.channel,
      deviceVendorId: e.device?.vendorId ?? null,
      deviceProductId: e.device?.productId ?? null,
      deviceSerial: e.device?.serial ?? null,
      deviceLabel: e.device?.label ?? null,
      deviceMount: e.device?.mount ?? null,
      fileName: e.fileName,
      mediaPath: e.mediaPath ?? null,
      size: e.size,
      sha256: e.sha256 ?? null,
      fileId: e.fileId ?? null,
      keyVersion: e.keyVersion ?? null,
      action: e.action,
      reason: e.reason ?? null,
      agentPrevHash: e.prevHash,
      agentHash: e.hash,
    }));
    const result = await this.store.events.appendBatch(agent.id, this.clock.now().toISOString(), rows, this.chain);
    for (const sink of this.sinks) sink.forward(result.stored);
    return { accepted: result.accepted, duplicates: result.duplicates };
  }

  async search(filter: EventFilter): Promise<EventPage> {
    const events = await this.store.events.query(filter);
    const last = events[events.length - 1];
    if (events.length < filter.limit || last === undefined) return { events };
    return filter.sort === undefined ? { events, nextCursor: last.seq } : { events, nextAfter: formatSortCursor(last, filter.sort.key) };
  }

  verify(): Promise<ChainReport> {
    return this.chain.verify('export', (after, limit) => this.store.events.scan(after, limit), () => this.store.events.anchor());
  }
}
