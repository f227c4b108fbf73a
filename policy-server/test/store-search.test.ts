// Export-log search: whichever way the store answers a filter (a filter's own index, the newest rows, or the
// time index), paging through it must give exactly the rows a plain filter over the whole log gives.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MasterKey } from '../src/crypto/masterKey.js';
import { LogChain } from '../src/services/chain.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import { EVENT_SORT_KEYS, type AgentRecord, type EventFilter, type EventRow, type EventSortKey, type Store } from '../src/storage/store.js';
import { tempDir } from './helpers/fixture.js';

type NewEvent = Parameters<Store['events']['appendBatch']>[2][number];

const ZONES = ['mynumber', 'lgwan', 'internet'];
const EVENTS = 12_000;
const DAY = 86_400_000;
const START = Date.parse('2024-01-01T00:00:00Z');

/** A deterministic pseudo-random sequence, so a failure can be replayed. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function matches(row: EventRow, filter: Omit<EventFilter, 'limit' | 'beforeSeq'>): boolean {
  return (
    (filter.agentId === undefined || row.agentId === filter.agentId) &&
    (filter.zoneId === undefined || row.zoneId === filter.zoneId) &&
    (filter.channel === undefined || row.channel === filter.channel) &&
    (filter.action === undefined || row.action === filter.action) &&
    (filter.osUser === undefined || row.osUser === filter.osUser) &&
    (filter.host === undefined || row.host === filter.host) &&
    (filter.sha256 === undefined || row.sha256 === filter.sha256) &&
    (filter.deviceSerial === undefined || row.deviceSerial === filter.deviceSerial) &&
    (filter.deviceLabel === undefined || row.deviceLabel === filter.deviceLabel) &&
    (filter.fileNamePrefix === undefined || row.fileName.startsWith(filter.fileNamePrefix)) &&
    (filter.from === undefined || row.occurredAt >= filter.from) &&
    (filter.to === undefined || row.occurredAt < filter.to)
  );
}

describe('export-log search over a log larger than the newest-rows stretch', () => {
  const dir = tempDir();
  let store: SqliteStore;
  let all: EventRow[];
  let agents: AgentRecord[];

  before(async () => {
    store = SqliteStore.open(join(dir.path, 'exitseal.db'));
    agents = [];
    for (let i = 0; i < 4; i++) {
      const tokenHash = randomUUID();
      await store.enrolment.create({ id: randomUUID(), tokenHash, zoneId: 'lgwan', expiresAt: '2099-01-01T00:00:00.000Z', createdBy: 'test', createdAt: '2024-01-01T00:00:00.000Z', usedAt: null });
      const agent: AgentRecord = { id: randomUUID(), hostname: `PC-${i}`, zoneId: ZONES[i % 3] as string, osName: 'Windows 11', agentVersion: '0.1.0', certFingerprint: randomUUID(), certSerial: String(i), enrolledAt: '2024-01-01T00:00:00.000Z', revokedAt: null, lastSeenAt: null, lastBundleRevision: null, lastEventHash: null, backlog: null };
      await store.enrolment.consume(tokenHash, '2024-01-01T00:00:00.000Z', agent);
      agents.push(agent);
    }
    const random = generator(42);
    const chain = new LogChain(MasterKey.fromBase64(randomBytes(32).toString('base64'), 'test'));
    const heads = agents.map(() => 'genesis');
    for (let done = 0; done < EVENTS; ) {
      const a = (done / 500) % agents.length;
      const events: NewEvent[] = [];
      for (let i = 0; i < 500; i++, done++) {
        // Mostly in time order (as agents send), with one in twenty sent late from an offline queue.
        const late = random() < 0.05;
        const occurred = START + (late ? random() * done : done) * (DAY / 40);
        const roll = random();
        const hash = `h${done}`;
        events.push({
          eventId: randomUUID(),
          occurredAt: new Date(occurred).toISOString(),
          host: `PC-${a}`,
          osUser: `user${Math.floor(random() * 30)}`,
          zoneId: ZONES[Math.floor(random() * 3)] as string,
          channel: random() < 0.1 ? 'mail' : 'removableMedia',
          deviceVendorId: '0781',
          deviceProductId: '5581',
          deviceSerial: `SN${Math.floor(random() * 200)}`,
          deviceLabel: random() < 0.5 ? 'USB' : `KEIRI-${Math.floor(random() * 20)}`,
          deviceMount: 'E:\\',
          fileName: `report-${Math.floor(random() * 1000)}.xlsx`,
          mediaPath: null,
          // Few distinct sizes, so the sort by size has many ties for seq to break.
          size: Math.floor(random() * 300) * 1000,
          sha256: null,
          fileId: null,
          keyVersion: 1,
          action: roll < 0.002 ? 'released' : roll < 0.04 ? 'blocked' : 'sealed',
          reason: null,
          agentPrevHash: heads[a] as string,
          agentHash: hash,
        });
        heads[a] = hash;
      }
      await store.events.appendBatch((agents[a] as AgentRecord).id, '2024-06-01T00:00:00.000Z', events, chain);
    }
    all = (await store.events.scan(0, EVENTS + 1)).map((c) => c.row).sort((x, y) => y.seq - x.seq);
    assert.equal(all.length, EVENTS);
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  const day = (n: number) => new Date(START + n * DAY).toISOString();
  const filters: [string, () => Omit<EventFilter, 'limit' | 'beforeSeq'>][] = [
    ['no filter', () => ({})],
    ['an old fortnight (found through the time index)', () => ({ from: day(20), to: day(34) })],
    ['an old fortnight in one zone', () => ({ from: day(20), to: day(34), zoneId: 'lgwan' })],
    ['released plaintext in an old month', () => ({ from: day(30), to: day(60), action: 'released' })],
    ['mail in the last fortnight (found among the newest rows)', () => ({ from: day(286), to: day(300), channel: 'mail' })],
    ['only a start', () => ({ from: day(150) })],
    ['only an end', () => ({ to: day(40), zoneId: 'internet' })],
    ['a range that matches nothing', () => ({ from: day(500), to: day(501) })],
    ['one user in a range', () => ({ osUser: 'user7', from: day(10), to: day(200) })],
    ['one agent, sealed', () => ({ agentId: agents[1]?.id, action: 'sealed' })],
    ['a file-name prefix in one zone', () => ({ fileNamePrefix: 'report-12', zoneId: 'mynumber' })],
    ['a device in a range, blocked', () => ({ deviceSerial: 'SN7', action: 'blocked', from: day(0), to: day(250) })],
    ['a device label', () => ({ deviceLabel: 'KEIRI-3' })],
    ['a common device label in one zone', () => ({ deviceLabel: 'USB', zoneId: 'lgwan' })],
  ];

  for (const [name, make] of filters) {
    it(`pages exactly through: ${name}`, async () => {
      const filter = make();
      const expected = all.filter((row) => matches(row, filter)).map((row) => row.seq);
      for (const limit of [50, 7]) {
        const got: number[] = [];
        let beforeSeq: number | undefined;
        for (let page = 0; page < EVENTS; page++) {
          const rows = await store.events.query({ ...filter, beforeSeq, limit });
          assert.ok(rows.length <= limit);
          got.push(...rows.map((r) => r.seq));
          if (rows.length < limit) break;
          beforeSeq = rows[rows.length - 1]?.seq;
        }
        assert.deepEqual(got, expected, `limit ${limit}`);
      }
    });
  }

  /** The order SQLite's BINARY collation and numeric comparison give (ASCII data, so code-unit order agrees). */
  function sortValue(row: EventRow, key: EventSortKey): string | number {
    return row[key];
  }

  const sortedFilters: [string, () => Omit<EventFilter, 'limit' | 'beforeSeq'>][] = [
    ['no filter', () => ({})],
    ['an old fortnight (few rows: sorted in memory)', () => ({ from: day(20), to: day(34) })],
    ['most of the log by time (many rows: the sort index walked)', () => ({ from: day(5) })],
    ['a device label in one zone', () => ({ deviceLabel: 'KEIRI-3', zoneId: 'internet' })],
    ['one user', () => ({ osUser: 'user7' })],
    ['a file-name prefix, blocked', () => ({ fileNamePrefix: 'report-1', action: 'blocked' })],
  ];
  for (const key of EVENT_SORT_KEYS) {
    for (const descending of [false, true]) {
      for (const [name, make] of sortedFilters) {
        it(`pages exactly through ${key} ${descending ? 'descending' : 'ascending'}: ${name}`, async () => {
          const filter = make();
          const sign = descending ? -1 : 1;
          const expected = all
            .filter((row) => matches(row, filter))
            .sort((x, y) => {
              const a = sortValue(x, key);
              const b = sortValue(y, key);
              return sign * (a < b ? -1 : a > b ? 1 : x.seq - y.seq);
            })
            .map((row) => row.seq);
          const got: number[] = [];
          let after: { value: string | number; seq: number } | undefined;
          for (let page = 0; page < EVENTS; page++) {
            const rows = await store.events.query({ ...filter, sort: { key, descending }, ...(after ? { after } : {}), limit: 97 });
            got.push(...rows.map((r) => r.seq));
            const last = rows[rows.length - 1];
            if (rows.length < 97 || last === undefined) break;
            after = { value: sortValue(last, key), seq: last.seq };
          }
          assert.deepEqual(got, expected);
        });
      }
    }
  }
});
