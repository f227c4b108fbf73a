import type { AgentDatabase, SqlStatement } from './database.js';

/** A decrypt or plaintext-release request this PC sent to the server, as the tray app lists it. */
export interface StoredRequest {
  readonly id: string;
  readonly kind: 'decrypt' | 'release';
  readonly osUser: string;
  readonly fileName: string;
  readonly path: string;
  readonly sha256: string | null;
  readonly reason: string;
  readonly status: string;
  readonly decisionReason: string | null;
  readonly createdAt: string;
  /** An approved decrypt for an outside recipient: the copy to hand over, and the passphrase to send separately. */
  readonly recipientCopy: { readonly path: string; readonly passphrase: string } | null;
}

/** A verified release token, kept until it expires. */
export interface StoredReleaseToken {
  readonly requestId: string;
  readonly osUser: string;
  readonly sha256: string;
  readonly fileName: string;
  readonly token: string;
  readonly expiresAt: string;
}

/** A sealed file found in an inbound folder that this PC may not open: listed for a decrypt request. */
export interface LockedFile {
  readonly path: string;
  readonly osUser: string;
  readonly zoneId: string;
  readonly fileId: string | null;
  readonly seenAt: string;
}

interface RequestRow {
  id: string;
  kind: 'decrypt' | 'release';
  os_user: string;
  file_name: string;
  path: string;
  sha256: string | null;
  reason: string;
  status: string;
  decision_reason: string | null;
  created_at: string;
  recipient_copy_path: string | null;
  recipient_passphrase: string | null;
}

/**
 * The agent's memory of requests, release tokens and files it could not open, per OS user (the local API
 * shows each person only their own).
 */
export class RequestStore {
  private readonly insertRequest: SqlStatement;
  private readonly updateStatus: SqlStatement;
  private readonly updateRecipientCopy: SqlStatement;
  private readonly requestsOf: SqlStatement;
  private readonly pendingRows: SqlStatement;
  private readonly putToken: SqlStatement;
  private readonly tokensOf: SqlStatement;
  private readonly putLocked: SqlStatement;
  private readonly dropLocked: SqlStatement;
  private readonly lockedOf: SqlStatement;
  private readonly lockedByPath: SqlStatement;

  constructor(
    db: AgentDatabase,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.insertRequest = db.prepare(
      `INSERT INTO requests (id, kind, os_user, file_name, path, sha256, reason, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.updateStatus = db.prepare('UPDATE requests SET status = ?, decision_reason = ?, updated_at = ? WHERE id = ?');
    this.updateRecipientCopy = db.prepare('UPDATE requests SET recipient_copy_path = ?, recipient_passphrase = ?, updated_at = ? WHERE id = ?');
    this.requestsOf = db.prepare('SELECT * FROM requests WHERE os_user = ? ORDER BY created_at DESC LIMIT ?');
    this.pendingRows = db.prepare(`SELECT * FROM requests WHERE status = 'pending' ORDER BY created_at`);
    this.putToken = db.prepare('INSERT OR REPLACE INTO release_tokens (request_id, os_user, sha256, file_name, token, expires_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.tokensOf = db.prepare('SELECT request_id, os_user, sha256, file_name, token, expires_at FROM release_tokens WHERE os_user = ? AND expires_at > ?');
    this.putLocked = db.prepare('INSERT OR REPLACE INTO locked_files (path, os_user, zone_id, file_id, seen_at) VALUES (?, ?, ?, ?, ?)');
    this.dropLocked = db.prepare('DELETE FROM locked_files WHERE path = ?');
    this.lockedOf = db.prepare('SELECT path, os_user, zone_id, file_id, seen_at FROM locked_files WHERE os_user = ? ORDER BY seen_at DESC LIMIT ?');
    this.lockedByPath = db.prepare('SELECT path, os_user, zone_id, file_id, seen_at FROM locked_files WHERE path = ?');
  }

  addRequest(request: Omit<StoredRequest, 'createdAt' | 'decisionReason' | 'recipientCopy'>): void {
    const stamp = this.now().toISOString();
    this.insertRequest.run(request.id, request.kind, request.osUser, request.fileName, request.path, request.sha256, request.reason, request.status, stamp, stamp);
  }

  setStatus(id: string, status: string, decisionReason: string | undefined): void {
    this.updateStatus.run(status, decisionReason ?? null, this.now().toISOString(), id);
  }

  setRecipientCopy(id: string, path: string, passphrase: string): void {
    this.updateRecipientCopy.run(path, passphrase, this.now().toISOString(), id);
  }

  requestsFor(osUser: string, limit = 100): StoredRequest[] {
    return (this.requestsOf.all(osUser, limit) as RequestRow[]).map(toRequest);
  }

  pending(): StoredRequest[] {
    return (this.pendingRows.all() as RequestRow[]).map(toRequest);
  }

  addReleaseToken(token: StoredReleaseToken): void {
    this.putToken.run(token.requestId, token.osUser, token.sha256, token.fileName, token.token, token.expiresAt);
  }

  /** Unexpired tokens of one user (cheap: the seal path asks before it spends a hash pass). */
  releaseTokensFor(osUser: string): StoredReleaseToken[] {
    return (this.tokensOf.all(osUser, this.now().toISOString()) as { request_id: string; os_user: string; sha256: string; file_name: string; token: string; expires_at: string }[]).map((row) => ({
      requestId: row.request_id,
      osUser: row.os_user,
      sha256: row.sha256,
      fileName: row.file_name,
      token: row.token,
      expiresAt: row.expires_at,
    }));
  }

  recordLocked(path: string, osUser: string, zoneId: string, fileId: string | null): void {
    this.putLocked.run(path, osUser, zoneId, fileId, this.now().toISOString());
  }

  forgetLocked(path: string): void {
    this.dropLocked.run(path);
  }

  lockedFor(osUser: string, limit = 200): LockedFile[] {
    return (this.lockedOf.all(osUser, limit) as { path: string; os_user: string; zone_id: string; file_id: string | null; seen_at: string }[]).map(toLocked);
  }

  locked(path: string): LockedFile | undefined {
    const row = this.lockedByPath.get(path) as { path: string; os_user: string; zone_id: string; file_id: string | null; seen_at: string } | undefined;
    return row ? toLocked(row) : undefined;
  }
}

function toLocked(row: { path: string; os_user: string; zone_id: string; file_id: string | null; seen_at: string }): LockedFile {
  return { path: row.path, osUser: row.os_user, zoneId: row.zone_id, fileId: row.file_id, seenAt: row.seen_at };
}

function toRequest(row: RequestRow): StoredRequest {
  return {
    id: row.id,
    kind: row.kind,
    osUser: row.os_user,
    fileName: row.file_name,
    path: row.path,
    sha256: row.sha256,
    reason: row.reason,
    status: row.status,
    decisionReason: row.decision_reason,
    createdAt: row.created_at,
    recipientCopy: row.recipient_copy_path !== null && row.recipient_passphrase !== null ? { path: row.recipient_copy_path, passphrase: row.recipient_passphrase } : null,
  };
}
