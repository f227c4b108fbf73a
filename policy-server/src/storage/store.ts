import type { ZoneWithPolicy } from '@exitseal/core/policy';
import type { AgentBacklog } from '@exitseal/core/wire';

/**
 * Everything the server keeps, behind one interface. Services only see this; the embedded default is
 * SQLite (sqlite.ts), and a PostgreSQL implementation can be added without touching services. Every
 * method that must be atomic is one method here, so no caller needs a transaction handle.
 */
export interface Store {
  readonly settings: SettingsRepository;
  readonly zones: ZoneRepository;
  readonly keys: ZoneKeyRepository;
  readonly enrolment: EnrolmentRepository;
  readonly agents: AgentRepository;
  readonly events: ExportEventRepository;
  readonly audit: AuditRepository;
  readonly users: UserRepository;
  readonly sessions: SessionRepository;
  readonly requests: RequestRepository;
  /** A consistent online copy of the whole store into a new file. */
  backup(destinationPath: string): Promise<void>;
  close(): Promise<void>;
}

export interface SettingsRepository {
  get(name: string): Promise<string | null>;
  /** Sets only if absent; returns the value now stored (so concurrent first starts agree). */
  putIfAbsent(name: string, value: string): Promise<string>;
  put(name: string, value: string | null): Promise<void>;
  /** Bumps and returns the policy revision: anything that changes a bundle calls this (inside the same change). */
  revision(): Promise<number>;
}

export interface ZoneRepository {
  list(): Promise<ZoneWithPolicy[]>;
  /** Saves (inserts or replaces) zones with their policies and bumps the policy revision, atomically. */
  save(entries: readonly ZoneWithPolicy[], updatedAt: string): Promise<void>;
}

export interface ZoneKeyRecord {
  readonly zoneId: string;
  readonly version: number;
  readonly recipient: string;
  /** The X25519 secret, encrypted under the master key. */
  readonly sealedSecret: Buffer;
  readonly createdAt: string;
}

export interface ZoneKeyRepository {
  /** All versions of all zones (or of one zone), newest version first within a zone. */
  list(zoneId?: string): Promise<ZoneKeyRecord[]>;
  get(zoneId: string, version: number): Promise<ZoneKeyRecord | null>;
  /** Adds version (latest + 1) made by `make`, bumps the policy revision, atomically; returns the new record. */
  addNextVersion(zoneId: string, createdAt: string, make: (version: number) => { recipient: string; sealedSecret: Buffer }): Promise<ZoneKeyRecord>;
}

export interface EnrolmentTokenRecord {
  readonly id: string;
  readonly tokenHash: string;
  readonly zoneId: string | null;
  readonly expiresAt: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly usedAt: string | null;
}

/** An agent's backlog as it last reported it, and when the server received that report. */
export interface ReportedBacklog extends AgentBacklog {
  readonly reportedAt: string;
}

export interface AgentRecord {
  readonly id: string;
  readonly hostname: string;
  readonly zoneId: string;
  readonly osName: string;
  readonly agentVersion: string;
  readonly certFingerprint: string;
  readonly certSerial: string;
  readonly enrolledAt: string;
  readonly revokedAt: string | null;
  readonly lastSeenAt: string | null;
  readonly lastBundleRevision: number | null;
  readonly lastEventHash: string | null;
  /** Null until the agent reports one (agents before 0.1.0's backlog report never do). */
  readonly backlog: ReportedBacklog | null;
}

export interface EnrolmentRepository {
  create(token: EnrolmentTokenRecord): Promise<void>;
  findByHash(tokenHash: string): Promise<EnrolmentTokenRecord | null>;
  /**
   * Marks the token used and stores the agent, atomically, only if the token is still unused and unexpired
   * at `now`. Returns false (and writes nothing) otherwise, so a token can never enrol two agents.
   */
  consume(tokenHash: string, now: string, agent: AgentRecord): Promise<boolean>;
}

export interface AgentRepository {
  list(): Promise<AgentRecord[]>;
  get(id: string): Promise<AgentRecord | null>;
  findByFingerprint(fingerprint: string): Promise<AgentRecord | null>;
  revoke(id: string, at: string): Promise<boolean>;
  /**
   * Records a contact (last seen, the bundle revision the agent now holds unless null, and the backlog it
   * reported, if it did, as of `at`). Called on every poll and upload, so an implementation may write it
   * later in bulk, as long as reads of agents reflect it at once.
   */
  touch(id: string, at: string, bundleRevision: number | null, backlog?: AgentBacklog): Promise<void>;
}

/** One stored export event, flat, exactly as the chain covers it. */
export interface EventRow {
  readonly seq: number;
  readonly eventId: string;
  readonly agentId: string;
  readonly receivedAt: string;
  readonly occurredAt: string;
  readonly host: string;
  readonly osUser: string;
  readonly zoneId: string;
  readonly channel: string;
  readonly deviceVendorId: string | null;
  readonly deviceProductId: string | null;
  readonly deviceSerial: string | null;
  readonly deviceLabel: string | null;
  readonly deviceMount: string | null;
  readonly fileName: string;
  readonly mediaPath: string | null;
  readonly size: number;
  readonly sha256: string | null;
  readonly fileId: string | null;
  readonly keyVersion: number | null;
  readonly action: string;
  readonly reason: string | null;
  readonly agentPrevHash: string;
  readonly agentHash: string;
  /** False when this event's prevHash did not continue the agent's last known chain head (a gap or a fork). */
  readonly agentChainOk: boolean;
}

export interface ChainedRow<T> {
  readonly row: T;
  readonly chainHash: string;
}

/** Computes a row's chain hash from the previous row's hash (the repository assigns `seq` first). */
export type ChainLink<T> = (previousHash: string, row: T) => string;

export type LogName = 'export' | 'audit';

/**
 * A time an append found the log not ending at its anchored head: rows at its end had been deleted
 * ('shorter'), the anchor row was gone ('missing') or its MAC did not verify ('forged'). Kept in the anchor
 * for good, so appending on top of a truncated log does not hide the truncation.
 */
export interface AnchorBreak {
  readonly reason: 'shorter' | 'missing' | 'forged';
  readonly anchoredSeq: number | null;
  readonly foundSeq: number;
  readonly at: string;
}

/** The chain head as of the last append, written in the same transaction, with a MAC under the master key. */
export interface LogAnchor {
  readonly seq: number;
  readonly headHash: string;
  readonly breaks: readonly AnchorBreak[];
  readonly mac: string;
}

/** What a repository needs to extend a log: the row link, and the MAC that seals the new anchored head. */
export interface LogChainer<T> {
  readonly link: ChainLink<T>;
  readonly seal: (log: LogName, anchor: Omit<LogAnchor, 'mac'>) => string;
}

/** Orders the export log can be read in; each has an index whose last column is seq, so paging is a keyset seek. */
export const EVENT_SORT_KEYS = ['seq', 'occurredAt', 'fileName', 'size', 'osUser'] as const;
export type EventSortKey = (typeof EVENT_SORT_KEYS)[number];

export interface EventSort {
  readonly key: EventSortKey;
  readonly descending: boolean;
}

/** Keyset position in a sorted read: the last row of the previous page (its sort value and seq). */
export interface EventSortCursor {
  readonly value: string | number;
  readonly seq: number;
}

export interface EventFilter {
  readonly agentId?: string;
  readonly zoneId?: string;
  readonly channel?: string;
  readonly action?: string;
  readonly osUser?: string;
  readonly host?: string;
  readonly sha256?: string;
  readonly fileNamePrefix?: string;
  readonly deviceSerial?: string;
  readonly deviceLabel?: string;
  readonly from?: string;
  readonly to?: string;
  /** Keyset paging of the default order (seq, newest first): only rows with seq below this. */
  readonly beforeSeq?: number;
  /** Absent: seq descending (newest first). */
  readonly sort?: EventSort;
  /** Keyset paging of `sort`: only rows after this one in that order. */
  readonly after?: EventSortCursor;
  readonly limit: number;
}

/** Which rows `ExportEventRepository.counts` counts. Times are ISO strings, compared as strings (as stored). */
export interface EventCountsQuery {
  /**
   * Only the rows newer (by seq) than the newest row received before this. Rows are stored in the order they
   * arrive, so these are the rows received since then, even if the server clock once stepped back.
   */
  readonly receivedSince: string;
  /** And only rows that occurred within [from, to], both ends included. */
  readonly from: string;
  readonly to: string;
  /** Users and devices count only the rows that also occurred at or after this. */
  readonly topFrom: string;
  /** Users and devices: only the keys whose count ranks among this many (every key tied with the last one is kept). */
  readonly topCount: number;
}

export interface EventDayCount {
  /** UTC day of occurredAt: its first 10 characters. */
  readonly day: string;
  readonly action: string;
  readonly zoneId: string;
  readonly count: number;
  /** The group's newest row (see EventKeyCount). */
  readonly newestSeq: number;
}

export interface EventKeyCount {
  readonly key: string;
  readonly count: number;
  /** The key's newest counted row: the order in which a newest-first read of the log first meets the keys. */
  readonly newestSeq: number;
}

export interface EventCounts {
  /** Every counted row, by day, action and zone. */
  readonly days: EventDayCount[];
  /** Keyed `${osUser}@${host}` (two user and host pairs that join to the same text are one key). */
  readonly users: EventKeyCount[];
  /** Rows with a device label or serial, keyed by the ones set, label first, joined by ' / '. */
  readonly devices: EventKeyCount[];
}

export interface ExportEventRepository {
  /**
   * Appends the events not stored yet (by eventId) in one transaction, chaining each to the server chain;
   * updates the agent's chain head. Returns how many were new and how many were already there. Calls may
   * overlap: they are chained in call order, and one may share its transaction with others.
   */
  appendBatch(
    agentId: string,
    receivedAt: string,
    events: readonly Omit<EventRow, 'seq' | 'agentId' | 'receivedAt' | 'agentChainOk'>[],
    chain: LogChainer<EventRow>,
  ): Promise<{ accepted: number; duplicates: number; stored: EventRow[] }>;
  /** The anchored chain head (null before the first append, or if the anchor row was deleted). */
  anchor(): Promise<LogAnchor | null>;
  /** In `filter.sort` order (seq ties broken by seq in the same direction); newest first by default. */
  query(filter: EventFilter): Promise<EventRow[]>;
  /** Rows in chain order after `afterSeq`, for verification. */
  scan(afterSeq: number, limit: number): Promise<ChainedRow<EventRow>[]>;
  count(): Promise<number>;
  /** Grouped counts for the dashboard, computed by the storage, from one consistent view of the log. */
  counts(query: EventCountsQuery): Promise<EventCounts>;
}

export interface AuditRow {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  /** JSON text. */
  readonly detail: string;
}

export interface AuditRepository {
  append(entry: Omit<AuditRow, 'seq'>, chain: LogChainer<AuditRow>): Promise<AuditRow>;
  anchor(): Promise<LogAnchor | null>;
  list(beforeSeq: number | undefined, limit: number): Promise<AuditRow[]>;
  scan(afterSeq: number, limit: number): Promise<ChainedRow<AuditRow>[]>;
}

export const ROLES = ['staff', 'approver', 'admin', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export interface UserRecord {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly passwordHash: string;
  readonly createdAt: string;
}

export interface UserRepository {
  /** Returns false when the username is taken. */
  create(user: UserRecord): Promise<boolean>;
  findByUsername(username: string): Promise<UserRecord | null>;
  get(id: string): Promise<UserRecord | null>;
  list(): Promise<UserRecord[]>;
  /**
   * Replaces the user's password hash and deletes every session of that user except `keepSessionHash`,
   * atomically, so a stolen session dies with the old password. Returns false when the user does not exist.
   */
  changePassword(userId: string, passwordHash: string, keepSessionHash: string): Promise<boolean>;
}

export interface SessionRecord {
  readonly idHash: string;
  readonly userId: string;
  readonly csrfToken: string;
  readonly createdAt: string;
  readonly expiresAt: string;
}

export interface SessionRepository {
  create(session: SessionRecord): Promise<void>;
  find(idHash: string, now: string): Promise<SessionRecord | null>;
  delete(idHash: string): Promise<void>;
  deleteExpired(now: string): Promise<number>;
}

export type RequestKind = 'decrypt' | 'release';
export type RequestStatus = 'pending' | 'approved' | 'denied';

export interface Decision {
  readonly step: number;
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly decision: 'approve' | 'deny';
  readonly reason: string;
  readonly at: string;
}

export interface RequestRecord {
  readonly id: string;
  readonly kind: RequestKind;
  readonly status: RequestStatus;
  readonly agentId: string;
  readonly osUser: string;
  /** The zone whose policy's approval chain applies. */
  readonly policyZoneId: string;
  readonly steps: readonly string[];
  readonly reason: string;
  readonly fileName: string;
  readonly createdAt: string;
  /** Kind-specific details (JSON object): the header for decrypt; size, sha256, destination for release. */
  readonly detail: Record<string, unknown>;
  readonly decisions: readonly Decision[];
  /** What the requester's agent receives once approved, encrypted under the master key. */
  readonly sealedOutcome: Buffer | null;
}

export interface RequestRepository {
  create(request: RequestRecord): Promise<void>;
  get(id: string): Promise<RequestRecord | null>;
  list(filter: { status?: RequestStatus; agentId?: string; limit: number }): Promise<RequestRecord[]>;
  /**
   * Records one decision if the request is still pending with exactly `decision.step` earlier decisions
   * (optimistic check, so two approvers cannot decide the same step); sets the new status and outcome.
   */
  decide(id: string, decision: Decision, status: RequestStatus, sealedOutcome: Buffer | null): Promise<boolean>;
}
