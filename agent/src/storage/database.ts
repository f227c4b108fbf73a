import Database from 'better-sqlite3';
import { ExitSealError } from '@exitseal/core';

/**
 * The agent's only door to SQLite (better-sqlite3). The journal, the volume baselines and the event outbox
 * live in one database file so a job's completion and its export event commit in one transaction.
 */

export type SqlValue = string | number | bigint | null | Buffer;

export interface SqlStatement {
  run(...params: SqlValue[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: SqlValue[]): unknown;
  all(...params: SqlValue[]): unknown[];
}

export class StorageError extends ExitSealError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('STORAGE_FAILED', message, { kind: 'fault', ...options });
    this.name = 'StorageError';
  }
}

/** Ordered schema steps; `PRAGMA user_version` records how many have run. Append only. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     id INTEGER PRIMARY KEY,
     volume_key TEXT NOT NULL,
     rel_path TEXT NOT NULL,
     channel TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending', 'sealing')),
     file_id TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     UNIQUE (volume_key, rel_path)
   );
   CREATE TABLE volumes (
     volume_key TEXT PRIMARY KEY,
     mount_token TEXT NOT NULL,
     mounted INTEGER NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE baseline (
     volume_key TEXT NOT NULL,
     rel_path TEXT NOT NULL,
     size INTEGER NOT NULL,
     mtime_ms REAL NOT NULL,
     PRIMARY KEY (volume_key, rel_path)
   ) WITHOUT ROWID;
   CREATE TABLE events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL UNIQUE,
     occurred_at TEXT NOT NULL,
     action TEXT NOT NULL,
     body TEXT NOT NULL,
     hash TEXT NOT NULL,
     uploaded INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX events_pending ON events (uploaded, seq);`,
  `CREATE TABLE requests (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('decrypt', 'release')),
     os_user TEXT NOT NULL,
     file_name TEXT NOT NULL,
     path TEXT NOT NULL,
     sha256 TEXT,
     reason TEXT NOT NULL,
     status TEXT NOT NULL,
     decision_reason TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX requests_user ON requests (os_user, created_at);
   CREATE TABLE release_tokens (
     request_id TEXT PRIMARY KEY,
     os_user TEXT NOT NULL,
     sha256 TEXT NOT NULL,
     file_name TEXT NOT NULL,
     token TEXT NOT NULL,
     expires_at TEXT NOT NULL
   );
   CREATE INDEX release_tokens_user ON release_tokens (os_user, expires_at);
   CREATE TABLE locked_files (
     path TEXT PRIMARY KEY,
     os_user TEXT NOT NULL,
     zone_id TEXT NOT NULL,
     file_id TEXT,
     seen_at TEXT NOT NULL
   );
   CREATE INDEX locked_files_user ON locked_files (os_user);`,
  // An approved outside-recipient decrypt: where the copy was written and the passphrase that opens it,
  // shown to the requester (only) through the local API.
  `ALTER TABLE requests ADD COLUMN recipient_copy_path TEXT;
   ALTER TABLE requests ADD COLUMN recipient_passphrase TEXT;`,
];

export class AgentDatabase {
  private constructor(private readonly db: Database.Database) {}

  /** Opens (creating if needed) and migrates the database; WAL with full sync, since the journal must survive power loss. */
  static open(path: string): AgentDatabase {
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
    } catch (error) {
      throw new StorageError(`cannot open the agent database ${path}`, { cause: error });
    }
    const database = new AgentDatabase(db);
    database.migrate();
    return database;
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new StorageError(`the agent database is from a newer agent (schema ${current}, this agent knows ${MIGRATIONS.length})`);
    }
    for (let step = current; step < MIGRATIONS.length; step++) {
      const sql = MIGRATIONS[step] ?? '';
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${step + 1}`);
      })();
    }
  }

  prepare(sql: string): SqlStatement {
    const statement = this.db.prepare(sql);
    return {
      run: (...params) => statement.run(...params),
      get: (...params) => statement.get(...params),
      all: (...params) => statement.all(...params),
    };
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
