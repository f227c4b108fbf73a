// The only file that imports better-sqlite3: the embedded implementation of the Store interface. Its
// writer thread (sqlite-writer.ts, started from here) runs serveWriter below.
import { Worker, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { ZoneWithPolicy } from '@exitseal/core/policy';
import type { AgentBacklog } from '@exitseal/core/wire';
import { ServerError } from '../errors.js';
import type {
  AgentRecord,
  AuditRow,
  AnchorBreak,
  ChainedRow,
  Decision,
  EnrolmentTokenRecord,
  EventCounts,
  EventCountsQuery,
  EventFilter,
  EventKeyCount,
  EventRow,
  EventSortKey,
  LogAnchor,
  LogChainer,
  LogName,
  ReportedBacklog,
  RequestRecord,
  RequestStatus,
  Role,
  SessionRecord,
  Store,
  UserRecord,
  ZoneKeyRecord,
} from './store.js';

/** Schema changes in order; each runs once, in a transaction, and is recorded in schema_migrations. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE zones (id TEXT PRIMARY KEY, zone TEXT NOT NULL, policy TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE zone_keys (
    zone_id TEXT NOT NULL, version INTEGER NOT NULL, recipient TEXT NOT NULL, sealed_secret BLOB NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (zone_id, version)
  );
  CREATE TABLE enrolment_tokens (
    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, zone_id TEXT, expires_at TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL, used_at TEXT, used_by_agent TEXT
  );
  CREATE TABLE agents (
    id TEXT PRIMARY KEY, hostname TEXT NOT NULL, zone_id TEXT NOT NULL, os_name TEXT NOT NULL, agent_version TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL UNIQUE, cert_serial TEXT NOT NULL, enrolled_at TEXT NOT NULL, revoked_at TEXT,
    last_seen_at TEXT, last_bundle_revision INTEGER, last_event_hash TEXT
  );
  CREATE TABLE export_events (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, agent_id TEXT NOT NULL, received_at TEXT NOT NULL,
    occurred_at TEXT NOT NULL, host TEXT NOT NULL, os_user TEXT NOT NULL, zone_id TEXT NOT NULL, channel TEXT NOT NULL,
    device_vendor_id TEXT, device_product_id TEXT, device_serial TEXT, device_label TEXT, device_mount TEXT,
    file_name TEXT NOT NULL, media_path TEXT, size INTEGER NOT NULL, sha256 TEXT, file_id TEXT, key_version INTEGER,
    action TEXT NOT NULL, reason TEXT, agent_prev_hash TEXT NOT NULL, agent_hash TEXT NOT NULL, agent_chain_ok INTEGER NOT NULL,
    chain_hash TEXT NOT NULL
  );
  CREATE INDEX export_events_agent ON export_events (agent_id, seq);
  CREATE INDEX export_events_zone ON export_events (zone_id, seq);
  CREATE INDEX export_events_action ON export_events (action, seq);
  CREATE INDEX export_events_user ON export_events (os_user, seq);
  CREATE INDEX export_events_host ON export_events (host, seq);
  CREATE INDEX export_events_sha256 ON export_events (sha256, seq);
  CREATE INDEX export_events_file_name ON export_events (file_name, seq);
  CREATE INDEX export_events_device_serial ON export_events (device_serial, seq);
  CREATE INDEX export_events_occurred ON export_events (occurred_at);
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,
    detail TEXT NOT NULL, chain_hash TEXT NOT NULL
  );
  CREATE TABLE users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf_token TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL);
  CREATE TABLE requests (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, agent_id TEXT NOT NULL, os_user TEXT NOT NULL,
    policy_zone_id TEXT NOT NULL, steps TEXT NOT NULL, reason TEXT NOT NULL, file_name TEXT NOT NULL, created_at TEXT NOT NULL,
    detail TEXT NOT NULL, decisions TEXT NOT NULL, sealed_outcome BLOB
  );
  CREATE INDEX requests_status ON requests (status, created_at);
  CREATE INDEX requests_agent ON requests (agent_id, created_at);
  INSERT INTO settings (name, value) VALUES ('revision', '1');
  `,
  // Zone ids are a handful of values: no search is served better by this index than by walking seq, and
  // SQLite (without statistics) preferred it over a selective filter's index. One index less per insert.
  `
  DROP INDEX export_events_zone;
  `,
  // The console filters by device label and sorts by size: each needs a (column, seq) index to page by keyset
  // over millions of rows (time, file name and user already have theirs).
  `
  CREATE INDEX export_events_device_label ON export_events (device_label, seq);
  CREATE INDEX export_events_size ON export_events (size, seq);
  `,
  // Each log's chain head, rewritten with every append (same transaction) under a MAC, so deleting rows at the
  // end of a log is detectable: the chain then ends before its anchored head.
  `
  CREATE TABLE log_anchors (log TEXT PRIMARY KEY, seq INTEGER NOT NULL, head_hash TEXT NOT NULL, breaks TEXT NOT NULL, mac TEXT NOT NULL);
  `,
  // What each agent last reported it has not finished (events to upload, seals pending, files quarantined), and when.
  `
  ALTER TABLE agents ADD COLUMN backlog_outbox INTEGER;
  ALTER TABLE agents ADD COLUMN backlog_jobs INTEGER;
  ALTER TABLE agents ADD COLUMN backlog_quarantined INTEGER;
  ALTER TABLE agents ADD COLUMN backlog_at TEXT;
  `,
];

/** Runs a synchronous body and hands back a settled promise, so sync SQLite fits the async Store interface. */
function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

type Row = Record<string, unknown>;
const str = (v: unknown): string => v as string;
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : (v as string));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toAgent(r: Row): AgentRecord {
  return {
    id: str(r.id),
    hostname: str(r.hostname),
    zoneId: str(r.zone_id),
    osName: str(r.os_name),
    agentVersion: str(r.agent_version),
    certFingerprint: str(r.cert_fingerprint),
    certSerial: str(r.cert_serial),
    enrolledAt: str(r.enrolled_at),
    revokedAt: strOrNull(r.revoked_at),
    lastSeenAt: strOrNull(r.last_seen_at),
    lastBundleRevision: numOrNull(r.last_bundle_revision),
    lastEventHash: strOrNull(r.last_event_hash),
    backlog:
      r.backlog_at === null || r.backlog_at === undefined
        ? null
        : { outboxEvents: Number(r.backlog_outbox), pendingJobs: Number(r.backlog_jobs), quarantinedFiles: Number(r.backlog_quarantined), reportedAt: str(r.backlog_at) },
  };
}

function toEvent(r: Row): EventRow {
  return {
    seq: Number(r.seq),
    eventId: str(r.event_id),
    agentId: str(r.agent_id),
    receivedAt: str(r.received_at),
    occurredAt: str(r.occurred_at),
    host: str(r.host),
    osUser: str(r.os_user),
    zoneId: str(r.zone_id),
    channel: str(r.channel),
    deviceVendorId: strOrNull(r.device_vendor_id),
    deviceProductId: strOrNull(r.device_product_id),
    deviceSerial: strOrNull(r.device_serial),
    deviceLabel: strOrNull(r.device_label),
    deviceMount: strOrNull(r.device_mount),
    fileName: str(r.file_name),
    mediaPath: strOrNull(r.media_path),
    size: Number(r.size),
    sha256: strOrNull(r.sha256),
    fileId: strOrNull(r.file_id),
    keyVersion: numOrNull(r.key_version),
    action: str(r.action),
    reason: strOrNull(r.reason),
    agentPrevHash: str(r.agent_prev_hash),
    agentHash: str(r.agent_hash),
    agentChainOk: Number(r.agent_chain_ok) === 1,
  };
}

function toAudit(r: Row): AuditRow {
  return { seq: Number(r.seq), at: str(r.at), actor: str(r.actor), action: str(r.action), target: str(r.target), detail: str(r.detail) };
}

function toUser(r: Row): UserRecord {
  return { id: str(r.id), username: str(r.username), role: str(r.role) as Role, passwordHash: str(r.password_hash), createdAt: str(r.created_at) };
}

function toRequest(r: Row): RequestRecord {
  return {
    id: str(r.id),
    kind: str(r.kind) as RequestRecord['kind'],
    status: str(r.status) as RequestStatus,
    agentId: str(r.agent_id),
    osUser: str(r.os_user),
    policyZoneId: str(r.policy_zone_id),
    steps: JSON.parse(str(r.steps)) as string[],
    reason: str(r.reason),
    fileName: str(r.file_name),
    createdAt: str(r.created_at),
    detail: JSON.parse(str(r.detail)) as Record<string, unknown>,
    decisions: JSON.parse(str(r.decisions)) as Decision[],
    sealedOutcome: r.sealed_outcome === null ? null : (r.sealed_outcome as Buffer),
  };
}

function toTokenRecord(r: Row): EnrolmentTokenRecord {
  return {
    id: str(r.id),
    tokenHash: str(r.token_hash),
    zoneId: strOrNull(r.zone_id),
    expiresAt: str(r.expires_at),
    createdBy: str(r.created_by),
    createdAt: str(r.created_at),
    usedAt: strOrNull(r.used_at),
  };
}

/** Filters with an index of their own that picks out few rows (unlike zone, channel or action). */
const SELECTIVE_FILTERS: readonly (keyof EventFilter)[] = ['agentId', 'osUser', 'host', 'sha256', 'fileNamePrefix', 'deviceSerial', 'deviceLabel'];
/** Filters that match a large share of the log; only action keeps an index (for its rare values, e.g. released). */
const COARSE_FILTERS: readonly (keyof EventFilter)[] = ['zoneId', 'channel', 'action'];
/** A time-range search first reads back through at least this many of the newest rows... */
const RECENT_ROWS = 5000;
/** ...or this many per requested result, so large pages (CSV export) are found there too. */
const RECENT_ROWS_PER_RESULT = 20;

const EVENT_FILTER_COLUMNS: readonly [keyof EventFilter, string][] = [
  ['agentId', 'agent_id'],
  ['zoneId', 'zone_id'],
  ['channel', 'channel'],
  ['action', 'action'],
  ['osUser', 'os_user'],
  ['host', 'host'],
  ['sha256', 'sha256'],
  ['deviceSerial', 'device_serial'],
  ['deviceLabel', 'device_label'],
];

/** Each sort key's column and the index that holds it in order (seq last); seq is the table's own order. */
const SORT_COLUMNS: Readonly<Record<EventSortKey, { readonly column: string; readonly index: string | null; readonly filteredBy: readonly (keyof EventFilter)[] }>> = {
  seq: { column: 'seq', index: null, filteredBy: [] },
  occurredAt: { column: 'occurred_at', index: 'export_events_occurred', filteredBy: ['from', 'to'] },
  fileName: { column: 'file_name', index: 'export_events_file_name', filteredBy: ['fileNamePrefix'] },
  size: { column: 'size', index: 'export_events_size', filteredBy: [] },
  osUser: { column: 'os_user', index: 'export_events_user', filteredBy: ['osUser'] },
};
/**
 * A sorted read whose filters match at most this many rows sorts just those rows; with more it walks the sort
 * column's index and checks the filters row by row. Counting up to this bound reads at most this many index entries.
 */
const SORT_IN_MEMORY_MAX_ROWS = 20_000;

/**
 * The dashboard counts the rows newer than the newest one received before a given time. received_at has no
 * index, but rows are stored in the order they arrive: walking seq down from the newest row stops there,
 * having read only the rows received since.
 */
const COUNTS_BOUNDARY_SQL = 'SELECT seq FROM export_events WHERE received_at < @receivedSince ORDER BY seq DESC LIMIT 1';
/**
 * The counted rows: a range of seq, read in table order. The unary plus keeps SQLite from reading them through
 * the time index instead, which costs a table lookup per row for nearly the same rows.
 */
const COUNTED_ROWS = 'seq > @boundary AND +occurred_at >= @from AND +occurred_at <= @to';
const COUNTS_BY_DAY_SQL = `SELECT substr(occurred_at, 1, 10) AS day, action, zone_id, COUNT(*) AS n, MAX(seq) AS newest FROM export_events WHERE ${COUNTED_ROWS} GROUP BY day, action, zone_id`;
/**
 * Counts per key among the rows that also occurred at or after @topFrom, only the keys ranked within @topCount
 * (RANK places ties together, so every key tied with the last place is kept: the caller breaks ties its own way).
 */
function topKeysSql(key: string, rows: string): string {
  return `SELECT key, n, newest FROM (
      SELECT key, n, newest, RANK() OVER (ORDER BY n DESC) AS place FROM (
        SELECT ${key} AS key, COUNT(*) AS n, MAX(seq) AS newest FROM export_events
        WHERE ${COUNTED_ROWS} AND +occurred_at >= @topFrom AND ${rows} GROUP BY key
      )
    ) WHERE place <= @topCount`;
}
const COUNTS_BY_USER_SQL = topKeysSql("os_user || '@' || host", 'TRUE');
const COUNTS_BY_DEVICE_SQL = topKeysSql(
  "CASE WHEN device_label IS NULL THEN device_serial WHEN device_serial IS NULL THEN device_label ELSE device_label || ' / ' || device_serial END",
  '(device_label IS NOT NULL OR device_serial IS NOT NULL)',
);

/** Opens one connection with the settings every connection of the store uses (WAL: readers never wait on the writer). */
function openConnection(path: string, cacheMegabytes: number): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // The default 2 MB page cache makes every insert into the event indexes (random event ids, hashes, names) a
  // page read once the log passes a few hundred thousand rows.
  db.pragma(`cache_size = -${cacheMegabytes * 1024}`);
  return db;
}

const READER_CACHE_MB = 64;
const WRITER_CACHE_MB = 256;

const INSERT_EVENT_SQL = `INSERT INTO export_events (
    seq, event_id, agent_id, received_at, occurred_at, host, os_user, zone_id, channel, device_vendor_id, device_product_id,
    device_serial, device_label, device_mount, file_name, media_path, size, sha256, file_id, key_version, action, reason,
    agent_prev_hash, agent_hash, agent_chain_ok, chain_hash)
  VALUES (@seq, @eventId, @agentId, @receivedAt, @occurredAt, @host, @osUser, @zoneId, @channel, @deviceVendorId, @deviceProductId,
    @deviceSerial, @deviceLabel, @deviceMount, @fileName, @mediaPath, @size, @sha256, @fileId, @keyVersion, @action, @reason,
    @agentPrevHash, @agentHash, @agentChainOkInt, @chainHash)`;

/** The newest row of the server chain (seq 0 and '' when the log is empty). */
interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

const ANCHOR_SQL = 'SELECT seq, head_hash, breaks, mac FROM log_anchors WHERE log = ?';
const PUT_ANCHOR_SQL =
  'INSERT INTO log_anchors (log, seq, head_hash, breaks, mac) VALUES (@log, @seq, @headHash, @breaks, @mac) ON CONFLICT (log) DO UPDATE SET seq = excluded.seq, head_hash = excluded.head_hash, breaks = excluded.breaks, mac = excluded.mac';

function readAnchor(statement: Database.Statement, log: LogName): LogAnchor | null {
  const r = statement.get(log) as Row | undefined;
  return r ? { seq: Number(r.seq), headHash: str(r.head_hash), breaks: JSON.parse(str(r.breaks)) as AnchorBreak[], mac: str(r.mac) } : null;
}

/**
 * The anchor after an append moved the head from `head` to `newHead`. If the log did not end at its anchored
 * head (or the anchor was gone or not genuine), that is recorded as a break, which every later anchor keeps.
 */
function nextAnchor(log: LogName, current: LogAnchor | null, head: ChainHead, newHead: ChainHead, at: string, seal: LogChainer<unknown>['seal']): LogAnchor {
  const genuine = current !== null && seal(log, { seq: current.seq, headHash: current.headHash, breaks: current.breaks }) === current.mac;
  let breaks: readonly AnchorBreak[] = genuine ? current.breaks : [];
  if (current === null ? head.seq > 0 : !genuine) {
    breaks = [...(current?.breaks ?? []), { reason: current === null ? 'missing' : 'forged', anchoredSeq: current?.seq ?? null, foundSeq: head.seq, at }];
  } else if (current !== null && (current.seq !== head.seq || current.headHash !== head.hash)) {
    breaks = [...breaks, { reason: 'shorter', anchoredSeq: current.seq, foundSeq: head.seq, at }];
  }
  const body = { seq: newHead.seq, headHash: newHead.hash, breaks };
  return { ...body, mac: seal(log, body) };
}

/** An anchor as the writer stores it. */
type AnchorParams = { readonly log: LogName; readonly seq: number; readonly headHash: string; readonly breaks: string; readonly mac: string };

function anchorParams(log: LogName, anchor: LogAnchor): AnchorParams {
  return { log, seq: anchor.seq, headHash: anchor.headHash, breaks: JSON.stringify(anchor.breaks), mac: anchor.mac };
}

/** One event row as the writer inserts it, already numbered and chained on the main thread. */
type ChainedEventParams = EventRow & { readonly agentChainOkInt: 0 | 1; readonly chainHash: string };

interface AgentTouch {
  readonly agentId: string;
  readonly at: string;
  readonly bundleRevision: number | null;
  readonly backlog: ReportedBacklog | null;
}

/** One message to the writer thread; each is one transaction. */
type WriterRequest =
  | {
      readonly id: number;
      readonly kind: 'appendEvents';
      /** The head the rows were chained onto; the writer refuses the rows if the log moved meanwhile. */
      readonly expectedHead: ChainHead;
      readonly rows: readonly ChainedEventParams[];
      readonly anchor: AnchorParams;
      readonly agentHeads: readonly (readonly [agentId: string, hash: string])[];
    }
  | { readonly id: number; readonly kind: 'touchAgents'; readonly touches: readonly AgentTouch[] }
  | { readonly id: number; readonly kind: 'close' };

type WriterReply = { readonly id: number; readonly ok: true } | { readonly id: number; readonly ok: false; readonly staleHead: boolean; readonly message: string };

const HEAD_SQL = 'SELECT seq, chain_hash FROM export_events ORDER BY seq DESC LIMIT 1';

function readHead(headStatement: Database.Statement): ChainHead {
  const last = headStatement.get() as Row | undefined;
  return last ? { seq: Number(last.seq), hash: str(last.chain_hash) } : { seq: 0, hash: '' };
}

/**
 * The writer thread's loop (run by sqlite-writer.ts): it owns the connection that appends export events and
 * records agent polls, so those transactions never hold the server's event loop. Messages arrive in order
 * and run one at a time, so the chain is appended strictly in sequence.
 */
export function serveWriter(port: MessagePort, databasePath: string): void {
  const db = openConnection(databasePath, WRITER_CACHE_MB);
  const headStatement = db.prepare(HEAD_SQL);
  const insert = db.prepare(INSERT_EVENT_SQL);
  const setAgentHead = db.prepare('UPDATE agents SET last_event_hash = ? WHERE id = ?');
  const putAnchor = db.prepare(PUT_ANCHOR_SQL);
  const touch = db.prepare('UPDATE agents SET last_seen_at = ?, last_bundle_revision = COALESCE(?, last_bundle_revision) WHERE id = ?');
  const setBacklog = db.prepare('UPDATE agents SET backlog_outbox = ?, backlog_jobs = ?, backlog_quarantined = ?, backlog_at = ? WHERE id = ?');
  const append = db.transaction((request: Extract<WriterRequest, { kind: 'appendEvents' }>): boolean => {
    const head = readHead(headStatement);
    if (head.seq !== request.expectedHead.seq || head.hash !== request.expectedHead.hash) return false;
    for (const row of request.rows) insert.run(row);
    for (const [agentId, hash] of request.agentHeads) setAgentHead.run(hash, agentId);
    putAnchor.run(request.anchor);
    return true;
  });
  const touchAll = db.transaction((touches: readonly AgentTouch[]) => {
    for (const t of touches) {
      touch.run(t.at, t.bundleRevision, t.agentId);
      if (t.backlog !== null) setBacklog.run(t.backlog.outboxEvents, t.backlog.pendingJobs, t.backlog.quarantinedFiles, t.backlog.reportedAt, t.agentId);
    }
  });
  port.on('message', (request: WriterRequest) => {
    let reply: WriterReply;
    try {
      if (request.kind === 'appendEvents') {
        reply = append(request) ? { id: request.id, ok: true } : { id: request.id, ok: false, staleHead: true, message: 'the export log changed while the batch was being chained' };
      } else if (request.kind === 'touchAgents') {
        touchAll(request.touches);
        reply = { id: request.id, ok: true };
      } else {
        db.close();
        port.postMessage({ id: request.id, ok: true } satisfies WriterReply);
        port.close();
        return;
      }
    } catch (error) {
      reply = { id: request.id, ok: false, staleHead: false, message: error instanceof Error ? error.message : String(error) };
    }
    port.postMessage(reply);
  });
}

const WRITER_MODULE = new URL('./sqlite-writer.js', import.meta.url);

/** A database fault: a 500 for the client, with the writer's message kept for the log. */
function storeFault(message: string, cause?: unknown): ServerError {
  return new ServerError(500, 'STORE_WRITE_FAILED', `the database write failed: ${message}`, { cause });
}

/**
 * The main thread's handle on the writer thread: started on first use (a CLI command that never appends
 * starts no thread), referenced only while a request is in flight so an idle writer never keeps the process
 * alive, restarted after a crash (every request in flight then fails as a fault).
 */
class WriterThread {
  private worker: Worker | null = null;
  private closing = false;
  private nextId = 1;
  private readonly inFlight = new Map<number, { resolve: (reply: WriterReply) => void; reject: (error: Error) => void }>();

  constructor(private readonly databasePath: string) {}

  request(body: DistributiveOmit<WriterRequest, 'id'>): Promise<WriterReply> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise<WriterReply>((resolve, reject) => {
      this.inFlight.set(id, { resolve, reject });
      if (this.inFlight.size === 1) worker.ref();
      worker.postMessage({ ...body, id });
    });
  }

  get running(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    if (this.worker === null) return;
    const worker = this.worker;
    this.closing = true;
    // Referenced until it has exited, or the process could end with this close still pending.
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    await this.request({ kind: 'close' });
    await exited;
    this.closing = false;
  }

  private start(): Worker {
    const worker = new Worker(WRITER_MODULE, { workerData: this.databasePath });
    worker.unref();
    worker.on('message', (reply: WriterReply) => {
      const waiting = this.inFlight.get(reply.id);
      if (waiting === undefined) return;
      this.inFlight.delete(reply.id);
      if (this.inFlight.size === 0 && !this.closing) worker.unref();
      waiting.resolve(reply);
    });
    const fail = (error: Error): void => {
      if (this.worker === worker) this.worker = null;
      for (const waiting of this.inFlight.values()) waiting.reject(storeFault(error.message, error));
      this.inFlight.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the database writer thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

type NewEvent = Omit<EventRow, 'seq' | 'agentId' | 'receivedAt' | 'agentChainOk'>;
type AppendResult = { accepted: number; duplicates: number; stored: EventRow[] };

interface QueuedBatch {
  readonly agentId: string;
  readonly receivedAt: string;
  readonly events: readonly NewEvent[];
  readonly chain: LogChainer<EventRow>;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

/** A group commit holds at most this many events, so a main-thread write never waits long on the writer's lock. */
const MAX_GROUP_EVENTS = 2000;
/** Events chained between two pauses for the event loop (about 5 ms of work). */
const CHAIN_SLICE = 200;
/** Another process appending between chaining and commit is retried this many times before the batch fails. */
const MAX_STALE_RETRIES = 3;

/**
 * Appends export-event batches through the writer thread, in strict order. Batches that arrive while the
 * writer is busy are committed together in the next transaction (group commit), so throughput grows with
 * load instead of latency. Numbering, duplicate detection and chaining run here on the main thread against
 * the committed log (only one group is ever in flight, so the log read here is exactly the one the writer
 * extends); the writer re-checks the chain head inside its transaction.
 */
class EventAppender {
  private readonly queue: QueuedBatch[] = [];
  private draining = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly head: Database.Statement;
  private readonly eventExists: Database.Statement;
  private readonly agentHead: Database.Statement;
  private readonly anchor: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly writer: WriterThread,
  ) {
    this.head = db.prepare(HEAD_SQL);
    this.eventExists = db.prepare('SELECT 1 FROM export_events WHERE event_id = ?');
    this.agentHead = db.prepare('SELECT last_event_hash FROM agents WHERE id = ?');
    this.anchor = db.prepare(ANCHOR_SQL);
  }

  /** Settles once every batch queued so far is committed or failed. */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  append(agentId: string, receivedAt: string, events: readonly NewEvent[], chain: LogChainer<EventRow>): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ agentId, receivedAt, events, chain, resolve, reject });
      if (!this.draining) this.idle = this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        try {
          const results = await this.commit(group);
          group.forEach((batch, index) => batch.resolve(results[index] as AppendResult));
        } catch (error) {
          const fault = error instanceof ServerError ? error : storeFault(error instanceof Error ? error.message : String(error), error);
          for (const batch of group) batch.reject(fault);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private takeGroup(): QueuedBatch[] {
    const group: QueuedBatch[] = [];
    let events = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as QueuedBatch;
      if (group.length > 0 && events + next.events.length > MAX_GROUP_EVENTS) break;
      group.push(next);
      events += next.events.length;
      this.queue.shift();
    }
    return group;
  }

  private async commit(group: readonly QueuedBatch[]): Promise<AppendResult[]> {
    for (let attempt = 1; ; attempt++) {
      const chained = await this.chain(group);
      if (chained.rows.length === 0) return chained.results;
      const reply = await this.writer.request({ kind: 'appendEvents', expectedHead: chained.head, rows: chained.rows, anchor: chained.anchor, agentHeads: [...chained.agentHeads] });
      if (reply.ok) return chained.results;
      if (!reply.staleHead || attempt >= MAX_STALE_RETRIES) throw storeFault(reply.message);
    }
  }

  /**
   * Numbers and chains the group's new events onto the committed log, exactly as one batch after another
   * would. It pauses every CHAIN_SLICE events so polls are served meanwhile (a group can take tens of ms);
   * nothing else in this process writes the log meanwhile, and another process doing so is caught by the writer.
   */
  private async chain(
    group: readonly QueuedBatch[],
  ): Promise<{ head: ChainHead; rows: ChainedEventParams[]; anchor: AnchorParams; agentHeads: Map<string, string>; results: AppendResult[] }> {
    const head = readHead(this.head);
    const anchored = readAnchor(this.anchor, 'export');
    let seq = head.seq;
    let previousHash = head.hash;
    const rows: ChainedEventParams[] = [];
    const agentHeads = new Map<string, string>();
    const seen = new Set<string>();
    const results: AppendResult[] = [];
    let sinceYield = 0;
    for (const batch of group) {
      let agentHead = agentHeads.has(batch.agentId) ? (agentHeads.get(batch.agentId) as string) : strOrNull((this.agentHead.get(batch.agentId) as Row | undefined)?.last_event_hash);
      const stored: EventRow[] = [];
      let duplicates = 0;
      for (const event of batch.events) {
        if (++sinceYield === CHAIN_SLICE) {
          sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        if (seen.has(event.eventId) || this.eventExists.get(event.eventId) !== undefined) {
          duplicates++;
          continue;
        }
        seen.add(event.eventId);
        seq++;
        const agentChainOk = agentHead === null || agentHead === event.agentPrevHash;
        const row: EventRow = { ...event, seq, agentId: batch.agentId, receivedAt: batch.receivedAt, agentChainOk };
        const chainHash = batch.chain.link(previousHash, row);
        rows.push({ ...row, agentChainOkInt: agentChainOk ? 1 : 0, chainHash });
        previousHash = chainHash;
        agentHead = event.agentHash;
        stored.push(row);
      }
      if (stored.length > 0 && agentHead !== null) agentHeads.set(batch.agentId, agentHead);
      results.push({ accepted: stored.length, duplicates, stored });
    }
    const last = group[group.length - 1] as QueuedBatch;
    const anchor = nextAnchor('export', anchored, head, { seq, hash: previousHash }, last.receivedAt, last.chain.seal);
    return { head, rows, anchor: anchorParams('export', anchor), agentHeads, results };
  }
}

/** How often buffered agent polls (last seen, policy revision held) are written, in one transaction. */
const TOUCH_FLUSH_MS = 1000;

/**
 * Agent polls arrive hundreds of times a second and each only moves "last seen" forward: they are kept here
 * and written by the writer thread once a second. Reads of agents see the buffered values, so the store
 * answers as if each poll had been written at once; a crash loses at most the last second of "last seen".
 */
class TouchBuffer {
  private readonly pending = new Map<string, AgentTouch>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly writer: WriterThread,
    private readonly onBackgroundError: (error: Error) => void,
  ) {}

  add(agentId: string, at: string, bundleRevision: number | null, backlog: AgentBacklog | undefined): void {
    const earlier = this.pending.get(agentId);
    this.pending.set(agentId, {
      agentId,
      at,
      bundleRevision: bundleRevision ?? earlier?.bundleRevision ?? null,
      backlog: backlog === undefined ? (earlier?.backlog ?? null) : { ...backlog, reportedAt: at },
    });
    this.schedule();
  }

  /** The agent as the store would hold it with every buffered poll written. */
  overlay(agent: AgentRecord): AgentRecord {
    const touch = this.pending.get(agent.id);
    if (touch === undefined) return agent;
    return { ...agent, lastSeenAt: touch.at, lastBundleRevision: touch.bundleRevision ?? agent.lastBundleRevision, backlog: touch.backlog ?? agent.backlog };
  }

  /** Writes what is buffered; entries stay visible to reads until their write committed (and are kept if it failed). */
  flush(): Promise<void> {
    const run = this.flushing.catch(() => undefined).then(() => this.writePending());
    this.flushing = run;
    return run;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush().catch((error: unknown) => {
        this.onBackgroundError(error instanceof Error ? error : new Error(String(error)));
        this.schedule();
      });
    }, TOUCH_FLUSH_MS);
    // A pending write alone must not keep the process alive; close() writes what is left.
    this.timer.unref();
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    const reply = await this.writer.request({ kind: 'touchAgents', touches: batch });
    if (!reply.ok) throw storeFault(reply.message);
    for (const written of batch) if (this.pending.get(written.agentId) === written) this.pending.delete(written.agentId);
  }
}

/** Brings the schema up to date: each migration runs once, in a transaction, recorded in schema_migrations. */
function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Row[]).map((r) => Number(r.version)));
  MIGRATIONS.forEach((sql, index) => {
    const version = index + 1;
    if (applied.has(version)) return;
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, new Date().toISOString());
    })();
  });
}

export interface SqliteStoreOptions {
  /** Told about a failed background write (buffered agent polls); the write is retried. */
  readonly onBackgroundError?: (error: Error) => void;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly writer: WriterThread;
  private readonly appender: EventAppender;
  private readonly touches: TouchBuffer;
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database, path: string, options: SqliteStoreOptions) {
    this.db = db;
    this.writer = new WriterThread(path);
    this.appender = new EventAppender(db, this.writer);
    this.touches = new TouchBuffer(this.writer, options.onBackgroundError ?? (() => undefined));
  }

  /**
   * Opens (creating if needed) the database file and brings its schema up to date. This connection serves
   * reads and the rare administrative writes; export events and agent polls are written by a writer thread.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const db = openConnection(path, READER_CACHE_MB);
    migrate(db);
    return new SqliteStore(db, path, options);
  }

  /**
   * Equality, prefix and time conditions of a search (not the cursor). A term written with a unary plus
   * cannot be answered through an index, which steers SQLite's choice: `time` for the time terms, `coarse`
   * for zone, channel and action (without statistics SQLite would as soon walk the action index as the
   * index of a filter that matches a hundred rows).
   */
  private static conditions(filter: EventFilter, indexable: { time: boolean; coarse: boolean }): { where: string[]; params: Record<string, unknown> } {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit };
    for (const [key, column] of EVENT_FILTER_COLUMNS) {
      const value = filter[key];
      if (value !== undefined) {
        where.push(`${COARSE_FILTERS.includes(key) && !indexable.coarse ? '+' : ''}${column} = @${key}`);
        params[key] = value;
      }
    }
    if (filter.fileNamePrefix !== undefined) {
      // A range on the indexed column instead of LIKE, so a prefix search stays an index seek.
      where.push('file_name >= @fileNamePrefix AND file_name < @fileNamePrefixEnd');
      params.fileNamePrefix = filter.fileNamePrefix;
      params.fileNamePrefixEnd = `${filter.fileNamePrefix}\u{10FFFF}`;
    }
    const occurred = indexable.time ? 'occurred_at' : '+occurred_at';
    if (filter.from !== undefined) {
      where.push(`${occurred} >= @from`);
      params.from = filter.from;
    }
    if (filter.to !== undefined) {
      where.push(`${occurred} < @to`);
      params.to = filter.to;
    }
    return { where, params };
  }

  private rows(sql: string, params: Record<string, unknown>): EventRow[] {
    return (this.statement(sql).all(params) as Row[]).map(toEvent);
  }

  /** With a selective filter (or no time range), SQLite's plan walks a (column, seq) index newest first. */
  private queryByPlanner(filter: EventFilter): EventRow[] {
    const selective = SELECTIVE_FILTERS.some((key) => filter[key] !== undefined);
    const { where, params } = SqliteStore.conditions(filter, { time: true, coarse: !selective });
    if (filter.beforeSeq !== undefined) {
      where.push('seq < @beforeSeq');
      params.beforeSeq = filter.beforeSeq;
    }
    return this.rows(`SELECT * FROM export_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`, params);
  }

  /**
   * A time range with no selective filter. Left to itself SQLite reads every row of the range through the
   * time index and sorts them all by seq for one page. Instead: (1) read back from the cursor through a
   * bounded stretch of the newest rows, where most searches (today, this week, CSV pages)
   * find their page; (2) if the page is not full, take the remaining seqs from the time index alone, which
   * holds seq, so choosing them reads no rows, and read just those rows.
   */
  private queryTimeRange(filter: EventFilter): EventRow[] {
    const top = filter.beforeSeq ?? Number((this.statement('SELECT COALESCE(MAX(seq), 0) + 1 AS top FROM export_events').get() as Row).top);
    const low = Math.max(0, top - Math.max(RECENT_ROWS, filter.limit * RECENT_ROWS_PER_RESULT));
    const recent = SqliteStore.conditions(filter, { time: false, coarse: true });
    const newest = this.rows(`SELECT * FROM export_events WHERE seq >= @low AND seq < @top AND ${recent.where.join(' AND ')} ORDER BY seq DESC LIMIT @limit`, {
      ...recent.params,
      low,
      top,
    });
    if (newest.length === filter.limit || low === 0) return newest;
    const older = SqliteStore.conditions(filter, { time: true, coarse: true });
    return [
      ...newest,
      ...this.rows(
        `SELECT * FROM export_events WHERE seq IN (
           SELECT seq FROM export_events INDEXED BY export_events_occurred WHERE ${older.where.join(' AND ')} AND seq < @low ORDER BY seq DESC LIMIT @remaining
         ) ORDER BY seq DESC`,
        { ...older.params, low, remaining: filter.limit - newest.length },
      ),
    ];
  }

  /**
   * Any order other than the default (seq, newest first), paged by keyset on (sort column, seq). Filters that
   * leave few rows (a selective filter's index or a time range, counted up to a bound) are read through their
   * own index and sorted; otherwise the sort column's index is walked in order and each row checked, which
   * stops as soon as the page is full. A filter on the sort column itself is a range of that index: walked.
   */
  private querySorted(filter: EventFilter, sort: { key: EventSortKey; descending: boolean }): EventRow[] {
    const { column, index, filteredBy } = SORT_COLUMNS[sort.key];
    const direction = sort.descending ? 'DESC' : 'ASC';
    const selective = SELECTIVE_FILTERS.some((key) => filter[key] !== undefined);
    const narrowed = selective || filter.from !== undefined || filter.to !== undefined;
    const onSortColumn = filteredBy.some((key) => filter[key] !== undefined);
    const planned = SqliteStore.conditions(filter, { time: true, coarse: !selective });
    let sortFew = false;
    if (narrowed && !onSortColumn) {
      const { n } = this.statement(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM export_events WHERE ${planned.where.join(' AND ')} LIMIT @bound)`).get({
        ...planned.params,
        bound: SORT_IN_MEMORY_MAX_ROWS + 1,
      }) as Row;
      sortFew = Number(n) <= SORT_IN_MEMORY_MAX_ROWS;
    }
    // Sorting the few rows: unary plus keeps the sort and cursor terms from steering SQLite to the sort index.
    // Walking: INDEXED BY holds SQLite to the sort index (seq order is the table itself: NOT INDEXED).
    const term = (name: string) => (sortFew ? `+${name}` : name);
    const where = [...planned.where];
    const params = { ...planned.params };
    if (filter.after !== undefined) {
      where.push(`(${term(column)}, ${term('seq')}) ${sort.descending ? '<' : '>'} (@afterValue, @afterSeq)`);
      params.afterValue = filter.after.value;
      params.afterSeq = filter.after.seq;
    }
    const source = sortFew ? 'export_events' : `export_events ${index === null ? 'NOT INDEXED' : `INDEXED BY ${index}`}`;
    const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    return this.rows(`SELECT * FROM ${source} ${whereSql} ORDER BY ${term(column)} ${direction}, ${term('seq')} ${direction} LIMIT @limit`, params);
  }

  /** Each SQL text is prepared once: preparing costs more than running most of these statements. */
  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (prepared === undefined) {
      prepared = this.db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  private bumpRevision(): void {
    this.statement("UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE name = 'revision'").run();
  }

  readonly settings = {
    get: (name: string) => settle(() => strOrNull((this.statement('SELECT value FROM settings WHERE name = ?').get(name) as Row | undefined)?.value)),
    putIfAbsent: (name: string, value: string) =>
      settle(() => {
        this.statement('INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)').run(name, value);
        return str((this.statement('SELECT value FROM settings WHERE name = ?').get(name) as Row).value);
      }),
    put: (name: string, value: string | null) =>
      settle(() => {
        if (value === null) this.statement('DELETE FROM settings WHERE name = ?').run(name);
        else this.statement('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, value);
        if (name === 'recovery_recipient') this.bumpRevision();
      }),
    revision: () => settle(() => Number((this.statement("SELECT value FROM settings WHERE name = 'revision'").get() as Row).value)),
  };

  readonly zones = {
    list: () =>
      settle(() =>
        (this.statement('SELECT zone, policy FROM zones ORDER BY id').all() as Row[]).map(
          (r): ZoneWithPolicy => ({ zone: JSON.parse(str(r.zone)) as ZoneWithPolicy['zone'], policy: JSON.parse(str(r.policy)) as ZoneWithPolicy['policy'] }),
        ),
      ),
    save: (entries: readonly ZoneWithPolicy[], updatedAt: string) =>
      settle(() => {
        this.db.transaction(() => {
          const upsert = this.statement(
            'INSERT INTO zones (id, zone, policy, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET zone = excluded.zone, policy = excluded.policy, updated_at = excluded.updated_at',
          );
          for (const entry of entries) upsert.run(entry.zone.id, JSON.stringify(entry.zone), JSON.stringify(entry.policy), updatedAt);
          this.bumpRevision();
        })();
      }),
  };

  private toKey(r: Row): ZoneKeyRecord {
    return { zoneId: str(r.zone_id), version: Number(r.version), recipient: str(r.recipient), sealedSecret: r.sealed_secret as Buffer, createdAt: str(r.created_at) };
  }

  readonly keys = {
    list: (zoneId?: string) =>
      settle(() =>
        (zoneId === undefined
          ? (this.statement('SELECT * FROM zone_keys ORDER BY zone_id, version DESC').all() as Row[])
          : (this.statement('SELECT * FROM zone_keys WHERE zone_id = ? ORDER BY version DESC').all(zoneId) as Row[])
        ).map((r) => this.toKey(r)),
      ),
    get: (zoneId: string, version: number) =>
      settle(() => {
        const row = this.statement('SELECT * FROM zone_keys WHERE zone_id = ? AND version = ?').get(zoneId, version) as Row | undefined;
        return row ? this.toKey(row) : null;
      }),
    addNextVersion: (zoneId: string, createdAt: string, make: (version: number) => { recipient: string; sealedSecret: Buffer }) =>
      settle(() =>
        this.db.transaction((): ZoneKeyRecord => {
          const latest = this.statement('SELECT MAX(version) AS v FROM zone_keys WHERE zone_id = ?').get(zoneId) as Row;
          const version = (numOrNull(latest.v) ?? 0) + 1;
          const made = make(version);
          this.statement('INSERT INTO zone_keys (zone_id, version, recipient, sealed_secret, created_at) VALUES (?, ?, ?, ?, ?)').run(zoneId, version, made.recipient, made.sealedSecret, createdAt);
          this.bumpRevision();
          return { zoneId, version, ...made, createdAt };
        })(),
      ),
  };

  readonly enrolment = {
    create: (t: EnrolmentTokenRecord) =>
      settle(() => {
        this.db
          .prepare('INSERT INTO enrolment_tokens (id, token_hash, zone_id, expires_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(t.id, t.tokenHash, t.zoneId, t.expiresAt, t.createdBy, t.createdAt);
      }),
    findByHash: (tokenHash: string) =>
      settle(() => {
        const row = this.statement('SELECT * FROM enrolment_tokens WHERE token_hash = ?').get(tokenHash) as Row | undefined;
        return row ? toTokenRecord(row) : null;
      }),
    consume: (tokenHash: string, now: string, a: AgentRecord) =>
      settle(() =>
        this.db.transaction((): boolean => {
          const used = this.db
            .prepare('UPDATE enrolment_tokens SET used_at = ?, used_by_agent = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?')
            .run(now, a.id, tokenHash, now);
          if (used.changes !== 1) return false;
          this.db
            .prepare(
              'INSERT INTO agents (id, hostname, zone_id, os_name, agent_version, cert_fingerprint, cert_serial, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            )
            .run(a.id, a.hostname, a.zoneId, a.osName, a.agentVersion, a.certFingerprint, a.certSerial, a.enrolledAt);
          return true;
        })(),
      ),
  };

  readonly agents = {
    list: () => settle(() => (this.statement('SELECT * FROM agents ORDER BY enrolled_at').all() as Row[]).map((r) => this.touches.overlay(toAgent(r)))),
    get: (id: string) =>
      settle(() => {
        const row = this.statement('SELECT * FROM agents WHERE id = ?').get(id) as Row | undefined;
        return row ? this.touches.overlay(toAgent(row)) : null;
      }),
    findByFingerprint: (fingerprint: string) =>
      settle(() => {
        const row = this.statement('SELECT * FROM agents WHERE cert_fingerprint = ?').get(fingerprint) as Row | undefined;
        return row ? this.touches.overlay(toAgent(row)) : null;
      }),
    revoke: (id: string, at: string) => settle(() => this.statement('UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 1),
    touch: (id: string, at: string, bundleRevision: number | null, backlog?: AgentBacklog) =>
      settle(() => {
        this.touches.add(id, at, bundleRevision, backlog);
      }),
  };

  readonly events = {
    appendBatch: (agentId: string, receivedAt: string, events: readonly NewEvent[], chain: LogChainer<EventRow>) => this.appender.append(agentId, receivedAt, events, chain),
    anchor: () => settle(() => readAnchor(this.statement(ANCHOR_SQL), 'export')),
    query: (filter: EventFilter) =>
      settle(() => {
        if (filter.sort !== undefined && (filter.sort.key !== 'seq' || !filter.sort.descending)) return this.querySorted(filter, filter.sort);
        // Newest first, asked for explicitly: its keyset cursor is just the seq.
        const newestFirst = filter.after === undefined ? filter : { ...filter, beforeSeq: Math.min(filter.after.seq, filter.beforeSeq ?? Infinity) };
        const timeRange = filter.from !== undefined || filter.to !== undefined;
        if (!timeRange || SELECTIVE_FILTERS.some((key) => filter[key] !== undefined)) return this.queryByPlanner(newestFirst);
        return this.queryTimeRange(newestFirst);
      }),
    scan: (afterSeq: number, limit: number) =>
      settle(() =>
        (this.statement('SELECT * FROM export_events WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Row[]).map(
          (r): ChainedRow<EventRow> => ({ row: toEvent(r), chainHash: str(r.chain_hash) }),
        ),
      ),
    count: () => settle(() => Number((this.statement('SELECT COUNT(*) AS n FROM export_events').get() as Row).n)),
    counts: (query: EventCountsQuery) =>
      settle(() =>
        // One read transaction: the boundary and the three counts see the same log, whatever the writer appends meanwhile.
        this.db.transaction((): EventCounts => {
          const boundary = this.statement(COUNTS_BOUNDARY_SQL).get({ receivedSince: query.receivedSince }) as Row | undefined;
          const params = { boundary: boundary === undefined ? 0 : Number(boundary.seq), from: query.from, to: query.to, topFrom: query.topFrom, topCount: query.topCount };
          const keyed = (sql: string): EventKeyCount[] =>
            (this.statement(sql).all(params) as Row[]).map((r) => ({ key: str(r.key), count: Number(r.n), newestSeq: Number(r.newest) }));
          return {
            days: (this.statement(COUNTS_BY_DAY_SQL).all(params) as Row[]).map((r) => ({ day: str(r.day), action: str(r.action), zoneId: str(r.zone_id), count: Number(r.n), newestSeq: Number(r.newest) })),
            users: keyed(COUNTS_BY_USER_SQL),
            devices: keyed(COUNTS_BY_DEVICE_SQL),
          };
        })(),
      ),
  };

  readonly audit = {
    append: (entry: Omit<AuditRow, 'seq'>, chain: LogChainer<AuditRow>) =>
      settle(() =>
        this.db.transaction((): AuditRow => {
          const last = this.statement('SELECT seq, chain_hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as Row | undefined;
          const row: AuditRow = { ...entry, seq: last ? Number(last.seq) + 1 : 1 };
          const head: ChainHead = last ? { seq: Number(last.seq), hash: str(last.chain_hash) } : { seq: 0, hash: '' };
          const chainHash = chain.link(head.hash, row);
          const anchor = nextAnchor('audit', readAnchor(this.statement(ANCHOR_SQL), 'audit'), head, { seq: row.seq, hash: chainHash }, row.at, chain.seal);
          this.statement(PUT_ANCHOR_SQL).run(anchorParams('audit', anchor));
          this.statement('INSERT INTO audit_log (seq, at, actor, action, target, detail, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?)').run(row.seq, row.at, row.actor, row.action, row.target, row.detail, chainHash);
          return row;
        })(),
      ),
    list: (beforeSeq: number | undefined, limit: number) =>
      settle(() => (this.statement('SELECT * FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?').all(beforeSeq ?? Number.MAX_SAFE_INTEGER, limit) as Row[]).map(toAudit)),
    anchor: () => settle(() => readAnchor(this.statement(ANCHOR_SQL), 'audit')),
    scan: (afterSeq: number, limit: number) =>
      settle(() =>
        (this.statement('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Row[]).map(
          (r): ChainedRow<AuditRow> => ({ row: toAudit(r), chainHash: str(r.chain_hash) }),
        ),
      ),
  };

  readonly users = {
    create: (u: UserRecord) =>
      settle(() => this.statement('INSERT OR IGNORE INTO users (id, username, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(u.id, u.username, u.role, u.passwordHash, u.createdAt).changes === 1),
    findByUsername: (username: string) =>
      settle(() => {
        const row = this.statement('SELECT * FROM users WHERE username = ?').get(username) as Row | undefined;
        return row ? toUser(row) : null;
      }),
    get: (id: string) =>
      settle(() => {
        const row = this.statement('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
        return row ? toUser(row) : null;
      }),
    list: () => settle(() => (this.statement('SELECT * FROM users ORDER BY username').all() as Row[]).map(toUser)),
    changePassword: (userId: string, passwordHash: string, keepSessionHash: string) =>
      settle(() =>
        this.db.transaction((): boolean => {
          if (this.statement('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, userId).changes !== 1) return false;
          this.statement('DELETE FROM sessions WHERE user_id = ? AND id_hash <> ?').run(userId, keepSessionHash);
          return true;
        })(),
      ),
  };

  readonly sessions = {
    create: (s: SessionRecord) =>
      settle(() => {
        this.statement('INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(s.idHash, s.userId, s.csrfToken, s.createdAt, s.expiresAt);
      }),
    find: (idHash: string, now: string) =>
      settle(() => {
        const r = this.statement('SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?').get(idHash, now) as Row | undefined;
        return r ? { idHash: str(r.id_hash), userId: str(r.user_id), csrfToken: str(r.csrf_token), createdAt: str(r.created_at), expiresAt: str(r.expires_at) } : null;
      }),
    delete: (idHash: string) =>
      settle(() => {
        this.statement('DELETE FROM sessions WHERE id_hash = ?').run(idHash);
      }),
    deleteExpired: (now: string) => settle(() => this.statement('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes),
  };

  readonly requests = {
    create: (q: RequestRecord) =>
      settle(() => {
        this.db
          .prepare(
            'INSERT INTO requests (id, kind, status, agent_id, os_user, policy_zone_id, steps, reason, file_name, created_at, detail, decisions, sealed_outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(q.id, q.kind, q.status, q.agentId, q.osUser, q.policyZoneId, JSON.stringify(q.steps), q.reason, q.fileName, q.createdAt, JSON.stringify(q.detail), JSON.stringify(q.decisions), q.sealedOutcome);
      }),
    get: (id: string) =>
      settle(() => {
        const row = this.statement('SELECT * FROM requests WHERE id = ?').get(id) as Row | undefined;
        return row ? toRequest(row) : null;
      }),
    list: (filter: { status?: RequestStatus; agentId?: string; limit: number }) =>
      settle(() => {
        const rows = this.db
          .prepare('SELECT * FROM requests WHERE (@status IS NULL OR status = @status) AND (@agentId IS NULL OR agent_id = @agentId) ORDER BY created_at DESC LIMIT @limit')
          .all({ status: filter.status ?? null, agentId: filter.agentId ?? null, limit: filter.limit }) as Row[];
        return rows.map(toRequest);
      }),
    decide: (id: string, decision: Decision, status: RequestStatus, sealedOutcome: Buffer | null) =>
      settle(() =>
        this.db.transaction((): boolean => {
          const row = this.statement("SELECT decisions FROM requests WHERE id = ? AND status = 'pending'").get(id) as Row | undefined;
          if (!row) return false;
          const decisions = JSON.parse(str(row.decisions)) as Decision[];
          if (decisions.length !== decision.step) return false;
          this.statement('UPDATE requests SET decisions = ?, status = ?, sealed_outcome = ? WHERE id = ?').run(JSON.stringify([...decisions, decision]), status, sealedOutcome, id);
          return true;
        })(),
      ),
  };

  async backup(destinationPath: string): Promise<void> {
    // What is queued or buffered for the writer thread belongs in the copy too.
    await this.appender.whenIdle();
    await this.touches.flush();
    await this.db.backup(destinationPath);
  }

  async close(): Promise<void> {
    await this.appender.whenIdle();
    try {
      await this.touches.close();
    } finally {
      await this.writer.close();
      this.db.close();
    }
  }
}
