// The SQLite store's writer thread: export events appended off the event loop, in strict chain order, with
// batches that arrive together committed together; agent polls buffered and still visible to reads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MasterKey } from '../src/crypto/masterKey.js';
import { LogChain } from '../src/services/chain.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { AgentRecord, EventRow, Store } from '../src/storage/store.js';
import { tempDir } from './helpers/fixture.js';

type NewEvent = Parameters<Store['events']['appendBatch']>[2][number];

const chain = new LogChain(MasterKey.fromBase64(randomBytes(32).toString('base64'), 'test'));

async function addAgent(store: Store, hostname: string): Promise<AgentRecord> {
  const tokenHash = randomUUID();
  await store.enrolment.create({ id: randomUUID(), tokenHash, zoneId: 'lgwan', expiresAt: '2099-01-01T00:00:00.000Z', createdBy: 'test', createdAt: '2025-04-01T00:00:00.000Z', usedAt: null });
  const agent: AgentRecord = {
    id: randomUUID(),
    hostname,
    zoneId: 'lgwan',
    osName: 'Windows 11',
    agentVersion: '0.1.0',
    certFingerprint: randomUUID(),
    certSerial: '1',
    enrolledAt: '2025-04-01T00:00:00.000Z',
    revokedAt: null,
    lastSeenAt: null,
    lastBundleRevision: null,
    lastEventHash: null,
    backlog: null,
  };
  assert.equal(await store.enrolment.consume(tokenHash, '2025-04-01T00:00:00.000Z', agent), true);
  return agent;
}

/** An agent's own event chain, continued from `state.head`. */
function agentEvents(state: { host: string; head: string; n: number }, count: number): NewEvent[] {
  return Array.from({ length: count }, () => {
    const agentHash = `${state.host}-hash-${++state.n}`;
    const event: NewEvent = {
      eventId: randomUUID(),
      occurredAt: new Date(Date.UTC(2025, 3, 1, 9, 0, state.n)).toISOString(),
      host: state.host,
      osUser: 'tanaka',
      zoneId: 'lgwan',
      channel: 'removableMedia',
      deviceVendorId: '0781',
      deviceProductId: '5581',
      deviceSerial: 'SN1',
      deviceLabel: 'KIOXIA',
      deviceMount: 'E:\\',
      fileName: `report-${state.n}.xlsx`,
      mediaPath: null,
      size: 1000 + state.n,
      sha256: 'ab'.repeat(32),
      fileId: randomUUID(),
      keyVersion: 1,
      action: 'sealed',
      reason: null,
      agentPrevHash: state.head,
      agentHash,
    };
    state.head = agentHash;
    return event;
  });
}

function append(store: Store, agent: AgentRecord, events: readonly NewEvent[]) {
  return store.events.appendBatch(agent.id, '2025-04-01T10:00:00.000Z', events, chain);
}

async function allRows(store: Store): Promise<EventRow[]> {
  return (await store.events.scan(0, 100_000)).map((c) => c.row);
}

describe('SQLite store writer thread', () => {
  const dir = tempDir();
  const databasePath = join(dir.path, 'exitseal.db');
  let store: SqliteStore;
  before(() => {
    store = SqliteStore.open(databasePath);
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('commits batches sent at once in call order, as one unbroken chain, and counts resent events as duplicates', async () => {
    const agents = [await addAgent(store, 'PC-1'), await addAgent(store, 'PC-2'), await addAgent(store, 'PC-3')];
    const states = agents.map((a) => ({ host: a.hostname, head: 'genesis', n: 0 }));
    const calls: { agent: AgentRecord; events: NewEvent[]; expectedNew: number }[] = [];
    for (let round = 0; round < 10; round++) {
      agents.forEach((agent, i) => {
        const fresh = agentEvents(states[i] as { host: string; head: string; n: number }, 20);
        const previous = calls[calls.length - agents.length];
        // From the second round on, each batch also resends the last five events of the round before it
        // (another agent's), as an agent retrying after a timeout would resend its own.
        const resent = previous === undefined ? [] : previous.events.slice(-5);
        calls.push({ agent, events: [...resent, ...fresh], expectedNew: fresh.length });
      });
    }
    const before = await store.events.count();
    const results = await Promise.all(calls.map((c) => append(store, c.agent, c.events)));

    results.forEach((result, i) => {
      const call = calls[i] as (typeof calls)[number];
      assert.equal(result.accepted, call.expectedNew, `call ${i}`);
      assert.equal(result.duplicates, call.events.length - call.expectedNew, `call ${i}`);
    });
    const seqs = results.flatMap((r) => r.stored.map((row) => row.seq));
    assert.deepEqual(seqs, Array.from({ length: 600 }, (_, i) => before + i + 1), 'numbered in call order without gaps');
    assert.equal(await store.events.count(), before + 600);
    const rows = await allRows(store);
    assert.ok(rows.every((r) => r.agentChainOk), 'every agent chain continued');
    const report = await chain.verify('export', (afterSeq, limit) => store.events.scan(afterSeq, limit), () => store.events.anchor());
    assert.deepEqual(report, { log: 'export', ok: true, rowsChecked: 600, problems: [] });
    for (const [i, agent] of agents.entries()) assert.equal((await store.agents.get(agent.id))?.lastEventHash, states[i]?.head);
  });

  it('counts a batch resent while its first copy is still queued as duplicates, and flags a fork in the agent chain', async () => {
    const agent = await addAgent(store, 'PC-4');
    const state = { host: 'PC-4', head: 'genesis', n: 0 };
    const events = agentEvents(state, 10);
    const [first, resent] = await Promise.all([append(store, agent, events), append(store, agent, events)]);
    assert.deepEqual([first.accepted, first.duplicates, resent.accepted, resent.duplicates], [10, 0, 0, 10]);

    const forked = agentEvents({ host: 'PC-4', head: 'not-the-head', n: 100 }, 1);
    const result = await append(store, agent, forked);
    assert.equal(result.stored[0]?.agentChainOk, false);
  });

  it('re-chains when another connection appended between chaining and commit, so the log never forks', async () => {
    const other = SqliteStore.open(databasePath);
    try {
      const mine = await addAgent(store, 'PC-5');
      const theirs = await addAgent(store, 'PC-6');
      const before = await store.events.count();
      // Both stores chain onto the same head before either commits; the writer that commits second must
      // find the head moved and the batch re-chained onto the first one.
      const [a, b] = await Promise.all([append(store, mine, agentEvents({ host: 'PC-5', head: 'g', n: 0 }, 30)), append(other, theirs, agentEvents({ host: 'PC-6', head: 'g', n: 0 }, 30))]);
      const seqs = [...a.stored, ...b.stored].map((r) => r.seq).sort((x, y) => x - y);
      assert.deepEqual(seqs, Array.from({ length: 60 }, (_, i) => before + i + 1));
      const report = await chain.verify('export', (afterSeq, limit) => store.events.scan(afterSeq, limit), () => store.events.anchor());
      assert.equal(report.ok, true, JSON.stringify(report.problems));
    } finally {
      await other.close();
    }
  });

  it('fails a batch the database refuses as a 500 fault with nothing written, and appends normally afterwards', async () => {
    const agent = await addAgent(store, 'PC-7');
    const state = { host: 'PC-7', head: 'genesis', n: 0 };
    const before = await store.events.count();
    execFileSync('sqlite3', [databasePath, "CREATE TRIGGER refuse_events BEFORE INSERT ON export_events BEGIN SELECT RAISE(ABORT, 'simulated full disk'); END;"]);
    await assert.rejects(append(store, agent, agentEvents(state, 5)), (error: Error & { code?: string; status?: number }) => {
      assert.equal(error.code, 'STORE_WRITE_FAILED');
      assert.equal(error.status, 500);
      assert.match(error.message, /simulated full disk/);
      return true;
    });
    assert.equal(await store.events.count(), before);
    assert.equal((await store.agents.get(agent.id))?.lastEventHash, null, "the agent's chain head did not move");

    execFileSync('sqlite3', [databasePath, 'DROP TRIGGER refuse_events;']);
    const retried = await append(store, agent, agentEvents({ host: 'PC-7', head: 'genesis', n: 0 }, 5));
    assert.equal(retried.accepted, 5);
    assert.equal(retried.stored[0]?.seq, before + 1);
    const report = await chain.verify('export', (afterSeq, limit) => store.events.scan(afterSeq, limit), () => store.events.anchor());
    assert.equal(report.ok, true, JSON.stringify(report.problems));
  });

  it('shows a poll in reads at once and writes it in the background, before a backup and on close; the last revision held is kept', async () => {
    const agent = await addAgent(store, 'PC-8');
    const backlog = { outboxEvents: 1200, pendingJobs: 3, quarantinedFiles: 1 };
    await store.agents.touch(agent.id, '2025-04-01T10:00:00.000Z', 7, backlog);
    await store.agents.touch(agent.id, '2025-04-01T10:01:00.000Z', null);
    for (const read of [await store.agents.get(agent.id), await store.agents.findByFingerprint(agent.certFingerprint), (await store.agents.list()).find((a) => a.id === agent.id)]) {
      assert.equal(read?.lastSeenAt, '2025-04-01T10:01:00.000Z');
      assert.equal(read?.lastBundleRevision, 7);
      assert.deepEqual(read?.backlog, { ...backlog, reportedAt: '2025-04-01T10:00:00.000Z' }, 'a contact without a backlog keeps the last one reported, with its own time');
    }
    const copyPath = join(dir.path, 'backup.db');
    await store.backup(copyPath);
    const copy = SqliteStore.open(copyPath);
    try {
      assert.equal((await copy.agents.get(agent.id))?.lastSeenAt, '2025-04-01T10:01:00.000Z', 'a backup holds the buffered poll');
    } finally {
      await copy.close();
    }
    await store.agents.touch(agent.id, '2025-04-01T10:02:00.000Z', null);
    await store.close();
    store = SqliteStore.open(databasePath);
    const reopened = await store.agents.get(agent.id);
    assert.equal(reopened?.lastSeenAt, '2025-04-01T10:02:00.000Z', 'close wrote the buffered poll');
    assert.equal(reopened?.lastBundleRevision, 7);
    assert.deepEqual(reopened?.backlog, { ...backlog, reportedAt: '2025-04-01T10:00:00.000Z' }, 'the backlog was written with the poll');
  });
});
