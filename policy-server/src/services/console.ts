import type { AgentBacklog } from '@exitseal/core/wire';
import type { ChainLink, EventFilter, EventKeyCount, EventRow, ReportedBacklog, RequestRecord, Store } from '../storage/store.js';
import { notFound } from '../errors.js';
import type { Clock } from './clock.js';

/** How long after its last contact an agent still counts as online (agents poll the bundle every few minutes). */
export const ONLINE_WINDOW_MINUTES = 15;
/**
 * A backlog at or above any of these counts is marked on the Agents page: a full upload batch still on the PC,
 * seals that keep failing or waiting for their stick, plaintext files piling up in the local quarantine.
 */
export const BACKLOG_LARGE: Readonly<AgentBacklog> = { outboxEvents: 1000, pendingJobs: 10, quarantinedFiles: 10 };
/** A backlog reported longer ago than this is marked stale: the PC may have fallen further behind since. */
export const BACKLOG_STALE_MINUTES = ONLINE_WINDOW_MINUTES;
const DASHBOARD_DAYS = 14;
const TOP_DAYS = 7;
const TOP_COUNT = 10;
/** Rows read per store call when exporting: large enough to be fast, small enough to not hold the event loop long. */
const READ_PAGE = 5000;
/** The dashboard is recomputed at most this often; its numbers are trends, not a live counter. */
const DASHBOARD_CACHE_MS = 60_000;
/**
 * An event is received after it happens, so rows received before the window cannot fall in it, except
 * for agent clocks running ahead of the server's: this much of such skew is tolerated.
 */
const CLOCK_SKEW_MARGIN_MS = 86_400_000;

export interface DayBucket {
  readonly day: string;
  readonly byAction: Record<string, number>;
  readonly byZone: Record<string, number>;
}

export interface Ranked {
  readonly key: string;
  readonly count: number;
}

export interface Dashboard {
  readonly generatedAt: string;
  readonly days: readonly DayBucket[];
  readonly topUsers: readonly Ranked[];
  readonly topDevices: readonly Ranked[];
  readonly agents: { readonly online: number; readonly offline: number; readonly revoked: number };
  readonly pendingRequests: number;
  readonly eventsInWindow: number;
}

export type LinkCheck = 'ok' | 'broken' | 'missing' | 'none';

export interface EventDetail {
  readonly event: EventRow;
  /**
   * The server chain around this row. `row`: its stored hash matches its content linked to the row before
   * ("broken" means this row or the hash was edited; "missing" means the row before it was deleted).
   * `next`: the row after it links to it ("none" for the newest row, "missing" when the next was deleted).
   * `agentChainOk`: the agent's own chain continued when this event arrived.
   */
  readonly chain: { readonly row: LinkCheck; readonly next: LinkCheck; readonly agentChainOk: boolean };
}

export interface AgentStatus {
  readonly id: string;
  readonly hostname: string;
  readonly zoneId: string;
  readonly osName: string;
  readonly agentVersion: string;
  readonly enrolledAt: string;
  readonly revokedAt: string | null;
  readonly lastSeenAt: string | null;
  readonly lastBundleRevision: number | null;
  readonly online: boolean;
  readonly policyCurrent: boolean;
  /** As last reported, with when; null if the agent never reported one. */
  readonly backlog: ReportedBacklog | null;
  /** Any count at or above BACKLOG_LARGE. */
  readonly backlogLarge: boolean;
  /** No report, or none in the last BACKLOG_STALE_MINUTES (revoked agents are never marked stale). */
  readonly backlogStale: boolean;
}

function isBacklogLarge(backlog: AgentBacklog | null): boolean {
  if (backlog === null) return false;
  return backlog.outboxEvents >= BACKLOG_LARGE.outboxEvents || backlog.pendingJobs >= BACKLOG_LARGE.pendingJobs || backlog.quarantinedFiles >= BACKLOG_LARGE.quarantinedFiles;
}

/** Day in UTC ("2025-04-01") of an ISO timestamp. */
function dayOf(iso: string): string {
  return iso.slice(0, 10);
}

/** Orders keys as a newest-first read of the log that counted them one by one would: count, then name, then first met. */
function ranks(a: EventKeyCount, b: EventKeyCount): number {
  return b.count - a.count || a.key.localeCompare(b.key) || b.newestSeq - a.newestSeq;
}

/** The first TOP_COUNT keys in that order, in one pass: the store may hand back many keys tied for the last place. */
function top(counts: readonly EventKeyCount[]): Ranked[] {
  const best: EventKeyCount[] = [];
  for (const entry of counts) {
    const last = best[best.length - 1];
    if (best.length === TOP_COUNT && last !== undefined && ranks(entry, last) >= 0) continue;
    let at = best.length;
    while (at > 0 && ranks(entry, best[at - 1] as EventKeyCount) < 0) at--;
    best.splice(at, 0, entry);
    if (best.length > TOP_COUNT) best.pop();
  }
  return best.map(({ key, count }) => ({ key, count }));
}

function add(counts: Record<string, number>, key: string, count: number): void {
  counts[key] = (counts[key] ?? 0) + count;
}

/**
 * What the admin console needs beyond the plain services: dashboard aggregates, one row with the chain
 * checked around it, the export log as a stream of pages, and agents with their health. Built only on
 * the Store interface, so it works for any storage implementation.
 */
export class ConsoleService {
  private cached: { at: number; dashboard: Dashboard } | null = null;

  constructor(
    private readonly store: Store,
    private readonly link: ChainLink<EventRow>,
    private readonly clock: Clock,
  ) {}

  async dashboard(): Promise<Dashboard> {
    const now = this.clock.now();
    if (this.cached !== null && now.getTime() - this.cached.at >= 0 && now.getTime() - this.cached.at < DASHBOARD_CACHE_MS) return this.cached.dashboard;
    const firstDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (DASHBOARD_DAYS - 1)));
    const topFrom = new Date(now.getTime() - TOP_DAYS * 86_400_000).toISOString();
    const days = new Map<string, DayBucket>();
    for (let i = 0; i < DASHBOARD_DAYS; i++) {
      const day = dayOf(new Date(firstDay.getTime() + i * 86_400_000).toISOString());
      days.set(day, { day, byAction: {}, byZone: {} });
    }
    const counts = await this.store.events.counts({
      receivedSince: new Date(firstDay.getTime() - CLOCK_SKEW_MARGIN_MS).toISOString(),
      from: firstDay.toISOString(),
      to: now.toISOString(),
      topFrom,
      topCount: TOP_COUNT,
    });
    let eventsInWindow = 0;
    // Newest group first, so each day's actions and zones are listed in the order a newest-first read meets them.
    for (const { day, action, zoneId, count } of [...counts.days].sort((a, b) => b.newestSeq - a.newestSeq)) {
      eventsInWindow += count;
      const bucket = days.get(day);
      if (bucket !== undefined) {
        add(bucket.byAction, action, count);
        add(bucket.byZone, zoneId, count);
      }
    }
    const agents = await this.agents();
    const pending = await this.store.requests.list({ status: 'pending', limit: 100_000 });
    const dashboard: Dashboard = {
      generatedAt: now.toISOString(),
      days: [...days.values()],
      topUsers: top(counts.users),
      topDevices: top(counts.devices),
      agents: {
        online: agents.filter((a) => a.revokedAt === null && a.online).length,
        offline: agents.filter((a) => a.revokedAt === null && !a.online).length,
        revoked: agents.filter((a) => a.revokedAt !== null).length,
      },
      pendingRequests: pending.length,
      eventsInWindow,
    };
    this.cached = { at: now.getTime(), dashboard };
    return dashboard;
  }

  /** Every row matching the filter, newest first, a page at a time (keyset on seq, so each page is an index seek). */
  async *pages(filter: Omit<EventFilter, 'limit' | 'beforeSeq'>): AsyncGenerator<EventRow[]> {
    let beforeSeq: number | undefined;
    for (;;) {
      const page = await this.store.events.query({ ...filter, beforeSeq, limit: READ_PAGE });
      if (page.length > 0) yield page;
      const last = page[page.length - 1];
      if (page.length < READ_PAGE || last === undefined) return;
      beforeSeq = last.seq;
    }
  }

  async eventDetail(seq: number): Promise<EventDetail> {
    const window = await this.store.events.scan(Math.max(0, seq - 2), 3);
    const index = window.findIndex((c) => c.row.seq === seq);
    const current = window[index];
    if (current === undefined) throw notFound(`export event ${seq}`);
    const before = index > 0 ? window[index - 1] : undefined;
    const after = window[index + 1];
    let row: LinkCheck;
    if (seq === 1) row = this.link('', current.row) === current.chainHash ? 'ok' : 'broken';
    else if (before === undefined || before.row.seq !== seq - 1) row = 'missing';
    else row = this.link(before.chainHash, current.row) === current.chainHash ? 'ok' : 'broken';
    let next: LinkCheck;
    // The window holds up to three rows from seq - 1 on, so no row after this one in it means none exists.
    if (after === undefined) next = 'none';
    else if (after.row.seq !== seq + 1) next = 'missing';
    else next = this.link(current.chainHash, after.row) === after.chainHash ? 'ok' : 'broken';
    return { event: current.row, chain: { row, next, agentChainOk: current.row.agentChainOk } };
  }

  async agents(): Promise<AgentStatus[]> {
    const now = this.clock.now().getTime();
    const revision = await this.store.settings.revision();
    return (await this.store.agents.list()).map((a) => ({
      id: a.id,
      hostname: a.hostname,
      zoneId: a.zoneId,
      osName: a.osName,
      agentVersion: a.agentVersion,
      enrolledAt: a.enrolledAt,
      revokedAt: a.revokedAt,
      lastSeenAt: a.lastSeenAt,
      lastBundleRevision: a.lastBundleRevision,
      online: a.lastSeenAt !== null && now - Date.parse(a.lastSeenAt) < ONLINE_WINDOW_MINUTES * 60_000,
      policyCurrent: a.lastBundleRevision === revision,
      backlog: a.backlog,
      backlogLarge: isBacklogLarge(a.backlog),
      backlogStale: a.revokedAt === null && (a.backlog === null || now - Date.parse(a.backlog.reportedAt) >= BACKLOG_STALE_MINUTES * 60_000),
    }));
  }

  /** Requests raised by one person (staff see only their own): matched on the OS user name their agent reported. */
  async requestsOf(osUser: string): Promise<RequestRecord[]> {
    return (await this.store.requests.list({ limit: 100_000 })).filter((r) => r.osUser === osUser);
  }
}

export const CSV_COLUMNS: readonly (keyof EventRow)[] = [
  'seq',
  'occurredAt',
  'receivedAt',
  'host',
  'osUser',
  'zoneId',
  'channel',
  'action',
  'fileName',
  'mediaPath',
  'size',
  'sha256',
  'deviceVendorId',
  'deviceProductId',
  'deviceSerial',
  'deviceLabel',
  'deviceMount',
  'fileId',
  'keyVersion',
  'reason',
  'eventId',
  'agentId',
  'agentChainOk',
];

/**
 * One CSV field (RFC 4180 quoting). A value that a spreadsheet would run as a formula (=, +, -, @, tab,
 * carriage return at the start) is prefixed with a quote mark: file names come from users' PCs.
 */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(row: EventRow): string {
  return `${CSV_COLUMNS.map((c) => csvField(row[c])).join(',')}\r\n`;
}
