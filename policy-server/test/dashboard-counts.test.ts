// The dashboard's numbers come from grouped counts in SQL. They must be exactly what reading the log newest
// first and counting row by row gives (the way the dashboard was computed before): the same rows (received
// since the margin before the window, occurred within it), the same keys, the same order of ties.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { MasterKey } from '../src/crypto/masterKey.js';
import { LogChain } from '../src/services/chain.js';
import { ConsoleService, type Dashboard } from '../src/services/console.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { AgentRecord, EventCounts, EventRow, Store } from '../src/storage/store.js';
import { tempDir } from './helpers/fixture.js';

type NewEvent = Parameters<Store['events']['appendBatch']>[2][number];
type Shape = Pick<NewEvent, 'occurredAt' | 'osUser' | 'host' | 'deviceLabel' | 'deviceSerial'> & Partial<Pick<NewEvent, 'action' | 'zoneId'>>;

const DAY = 86_400_000;
const NOW = Date.parse('2025-04-01T09:00:00.000Z');
/** The dashboard's window at NOW: 14 UTC days, today included; rows received from a day before it are read. */
const FIRST_DAY = Date.parse('2025-03-19T00:00:00.000Z');
const RECEIVED_SINCE = FIRST_DAY - DAY;
const TOP_FROM = NOW - 7 * DAY;
const ACTIONS = ['sealed', 'blocked', 'released-plaintext', 'failed'];
const ZONES = ['mynumber', 'lgwan', 'internet'];
const iso = (ms: number) => new Date(ms).toISOString();

function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** The dashboard's counting as it was before it moved into SQL: every row read newest first, counted one by one. */
function referenceDashboard(newestFirst: readonly EventRow[], now: Date): Pick<Dashboard, 'days' | 'topUsers' | 'topDevices' | 'eventsInWindow'> {
  const firstDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 13));
  const since = iso(firstDay.getTime() - DAY);
  const topFrom = iso(now.getTime() - 7 * DAY);
  const days = new Map<string, { day: string; byAction: Record<string, number>; byZone: Record<string, number> }>();
  for (let i = 0; i < 14; i++) {
    const day = iso(firstDay.getTime() + i * DAY).slice(0, 10);
    days.set(day, { day, byAction: {}, byZone: {} });
  }
  const users = new Map<string, number>();
  const devices = new Map<string, number>();
  let eventsInWindow = 0;
  for (const row of newestFirst) {
    if (row.receivedAt < since) break;
    if (row.occurredAt < firstDay.toISOString() || row.occurredAt > now.toISOString()) continue;
    eventsInWindow++;
    const bucket = days.get(row.occurredAt.slice(0, 10));
    if (bucket !== undefined) {
      bucket.byAction[row.action] = (bucket.byAction[row.action] ?? 0) + 1;
      bucket.byZone[row.zoneId] = (bucket.byZone[row.zoneId] ?? 0) + 1;
    }
    if (row.occurredAt >= topFrom) {
      const user = `${row.osUser}@${row.host}`;
      users.set(user, (users.get(user) ?? 0) + 1);
      if (row.deviceSerial !== null || row.deviceLabel !== null) {
        const device = [row.deviceLabel, row.deviceSerial].filter((v) => v !== null).join(' / ');
        devices.set(device, (devices.get(device) ?? 0) + 1);
      }
    }
  }
  const top = (counts: Map<string, number>) =>
    [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 10)
      .map(([key, count]) => ({ key, count }));
  return { days: [...days.values()], topUsers: top(users), topDevices: top(devices), eventsInWindow };
}

describe('dashboard counts against a row-by-row reference', () => {
  const dir = tempDir();
  let store: SqliteStore;
  let chain: LogChain;
  let agent: AgentRecord;
  let head = 'genesis';
  let newestFirst: EventRow[];

  async function append(receivedAt: number, shapes: readonly Shape[], random: () => number): Promise<void> {
    const events: NewEvent[] = shapes.map((shape, i) => {
      const hash = `${head}-${i}`;
      const event: NewEvent = {
        eventId: randomUUID(),
        channel: 'removableMedia',
        deviceVendorId: null,
        deviceProductId: null,
        deviceMount: null,
        fileName: 'report.xlsx',
        mediaPath: null,
        size: 1000,
        sha256: null,
        fileId: null,
        keyVersion: 1,
        action: ACTIONS[Math.floor(random() * ACTIONS.length)] as string,
        zoneId: ZONES[Math.floor(random() * ZONES.length)] as string,
        reason: null,
        agentPrevHash: head,
        agentHash: hash,
        ...shape,
      };
      head = hash;
      return event;
    });
    for (let i = 0; i < events.length; i += 500) await store.events.appendBatch(agent.id, iso(receivedAt), events.slice(i, i + 500), chain);
  }

  /** Events in the top lists' week (received since the margin), with nothing set but who and where. */
  const inTopWeek = (random: () => number, user: [string, string], device: [string | null, string | null]): Shape => ({
    occurredAt: iso(TOP_FROM + Math.floor(random() * (NOW - TOP_FROM))),
    osUser: user[0],
    host: user[1],
    deviceLabel: device[0],
    deviceSerial: device[1],
  });

  before(async () => {
    store = SqliteStore.open(join(dir.path, 'exitseal.db'));
    chain = new LogChain(MasterKey.fromBase64(randomBytes(32).toString('base64'), 'test'));
    const tokenHash = randomUUID();
    await store.enrolment.create({ id: randomUUID(), tokenHash, zoneId: 'lgwan', expiresAt: '2099-01-01T00:00:00.000Z', createdBy: 'test', createdAt: '2025-01-01T00:00:00.000Z', usedAt: null });
    agent = { id: randomUUID(), hostname: 'PC-1', zoneId: 'lgwan', osName: 'Windows 11', agentVersion: '0.1.0', certFingerprint: randomUUID(), certSerial: '1', enrolledAt: '2025-01-01T00:00:00.000Z', revokedAt: null, lastSeenAt: null, lastBundleRevision: null, lastEventHash: null, backlog: null };
    await store.enrolment.consume(tokenHash, '2025-01-01T00:00:00.000Z', agent);
    const random = generator(7);
    const ghost = (n: number): Shape[] => Array.from({ length: n }, () => inTopWeek(random, ['ghost', 'PC-9'], ['GHOST', 'SN-GHOST']));

    // Received before the margin: not read, even the rows whose (skewed) time falls in the window.
    await append(RECEIVED_SINCE - 2 * DAY, ghost(30), random);
    // Received since, but stored before a row received earlier (the server clock stepped back): a newest-first
    // read stops at that row, so these are not counted either.
    await append(RECEIVED_SINCE + 3_600_000, ghost(30), random);
    await append(RECEIVED_SINCE - 1, ghost(1), random);
    // Received exactly at the margin: read.
    await append(RECEIVED_SINCE, [{ occurredAt: iso(FIRST_DAY), osUser: 'edge', host: 'PC-0', deviceLabel: null, deviceSerial: null }], random);

    // Background over the window and around it (before it, in the future), arriving in order with some late.
    for (let batch = 0; batch < 20; batch++) {
      const receivedAt = RECEIVED_SINCE + 60_000 + batch * ((NOW - RECEIVED_SINCE) / 20);
      const shapes: Shape[] = [];
      for (let i = 0; i < 150; i++) {
        const late = random() < 0.1;
        const occurred = late ? FIRST_DAY - 3 * DAY + random() * (receivedAt - FIRST_DAY + 3 * DAY) : receivedAt - random() * 600_000 + (random() < 0.02 ? 2 * DAY : 0);
        // Before the top lists' week one user and one device dominate; inside it every key is its own (count 1).
        const old = occurred < TOP_FROM;
        shapes.push({
          occurredAt: iso(occurred),
          osUser: old ? 'heavy' : `bg${batch}-${i}`,
          host: 'PC-2',
          deviceLabel: old ? 'HEAVY' : random() < 0.5 ? null : `L${batch}-${i}`,
          deviceSerial: old ? 'SN-HEAVY' : random() < 0.5 ? null : `S${batch}-${i}`,
        });
      }
      await append(receivedAt, shapes, random);
    }

    // The top lists: keys made of two columns that join to one key, and more keys tied for the last places
    // than fit, ordered by name as localeCompare does (lower case first, unlike SQL), one pair of them
    // canonically equal (é precomposed and decomposed: localeCompare says 0, so first met counts).
    const received = NOW - 3_600_000;
    const shapes: Shape[] = [];
    const times = (n: number, user: [string, string], device: [string | null, string | null]) => {
      for (let i = 0; i < n; i++) shapes.push(inTopWeek(random, user, device));
    };
    times(8, ['zed', 'PC-1'], ['USB-Z', 'SN-Z']);
    times(3, ['a@b', 'c'], ['A / B', null]);
    times(3, ['a', 'b@c'], ['A', 'B']);
    times(2, ['x', 'PC-3'], [null, 'X']);
    times(2, ['y', 'PC-3'], ['X', null]);
    for (let i = 0; i < 20; i++) times(1, [`nodevice${i}`, 'PC-3'], [null, null]);
    for (const name of ['alice', 'Alice', 'ALICE', 'bob', 'Bob', '\u00e9mile', 'e\u0301mile', 'carl', 'dave', 'erin', 'frank', 'gus', 'hal', 'ivy']) {
      times(4, [name, 'PC-4'], [`USB-${name}`, `SN-${name}`]);
    }
    // Shuffled, so each key's newest row is not simply its last position above.
    for (let i = shapes.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shapes[i], shapes[j]] = [shapes[j] as Shape, shapes[i] as Shape];
    }
    // Exactly on the window's and the week's edges (and just outside them).
    shapes.push(
      { occurredAt: iso(FIRST_DAY - 1), osUser: 'edge', host: 'PC-0', deviceLabel: null, deviceSerial: 'SN-EDGE' },
      { occurredAt: iso(TOP_FROM - 1), osUser: 'edge', host: 'PC-0', deviceLabel: null, deviceSerial: 'SN-EDGE' },
      { occurredAt: iso(TOP_FROM), osUser: 'edge', host: 'PC-0', deviceLabel: null, deviceSerial: 'SN-EDGE' },
      { occurredAt: iso(NOW), osUser: 'edge', host: 'PC-0', deviceLabel: null, deviceSerial: 'SN-EDGE' },
      { occurredAt: iso(NOW + 1), osUser: 'edge', host: 'PC-0', deviceLabel: null, deviceSerial: 'SN-EDGE' },
    );
    await append(received, shapes, random);
    newestFirst = (await store.events.scan(0, 100_000)).map((c) => c.row).sort((a, b) => b.seq - a.seq);
  });

  after(async () => {
    await store.close();
    dir.remove();
  });

  it('counts, in the store, exactly the rows and keys a newest-first read counts', async () => {
    const since = iso(RECEIVED_SINCE);
    const stop = newestFirst.findIndex((row) => row.receivedAt < since);
    const read = newestFirst.slice(0, stop).filter((row) => row.occurredAt >= iso(FIRST_DAY) && row.occurredAt <= iso(NOW));
    const group = (rows: readonly EventRow[], keyOf: (row: EventRow) => string | null) => {
      const groups = new Map<string, { count: number; newestSeq: number }>();
      for (const row of rows) {
        const key = keyOf(row);
        if (key === null) continue;
        const seen = groups.get(key);
        groups.set(key, { count: (seen?.count ?? 0) + 1, newestSeq: Math.max(seen?.newestSeq ?? 0, row.seq) });
      }
      return groups;
    };
    const week = read.filter((row) => row.occurredAt >= iso(TOP_FROM));
    const allUsers = group(week, (row) => `${row.osUser}@${row.host}`);
    const allDevices = group(week, (row) => (row.deviceLabel === null && row.deviceSerial === null ? null : [row.deviceLabel, row.deviceSerial].filter((v) => v !== null).join(' / ')));
    /** Every key whose count is at least the topCount-th largest. */
    const ranked = (groups: Map<string, { count: number; newestSeq: number }>, topCount: number) => {
      const last = [...groups.values()].map((g) => g.count).sort((a, b) => b - a)[topCount - 1] ?? 0;
      return new Map([...groups].filter(([, g]) => g.count >= last));
    };
    const asMap = (keys: EventCounts['users']) => new Map(keys.map((k) => [k.key, { count: k.count, newestSeq: k.newestSeq }]));
    for (const topCount of [1, 2, 3, 9, 10, 17, 1000]) {
      const counts: EventCounts = await store.events.counts({ receivedSince: since, from: iso(FIRST_DAY), to: iso(NOW), topFrom: iso(TOP_FROM), topCount });
      assert.deepEqual(
        new Map(counts.days.map((d) => [JSON.stringify([d.day, d.action, d.zoneId]), { count: d.count, newestSeq: d.newestSeq }])),
        group(read, (row) => JSON.stringify([row.occurredAt.slice(0, 10), row.action, row.zoneId])),
      );
      assert.deepEqual(asMap(counts.users), ranked(allUsers, topCount), `users, top ${topCount}`);
      assert.deepEqual(asMap(counts.devices), ranked(allDevices, topCount), `devices, top ${topCount}`);
      // All keys tied for the last place are handed back, for the caller to order.
      if (topCount === 10) assert.deepEqual([counts.users.length, counts.devices.length], [16, 17]);
    }
  });

  for (const [name, now] of [
    ['now', NOW],
    ['two days earlier (the newest rows are in the future)', NOW - 2 * DAY],
    ['five days later (the window starts inside the log)', NOW + 5 * DAY],
    ['weeks before every row (nothing is counted)', RECEIVED_SINCE - 20 * DAY],
  ] as const) {
    it(`gives the dashboard a newest-first read gives, key order included: ${name}`, async () => {
      const service = new ConsoleService(store, chain.link, { now: () => new Date(now) });
      const got = await service.dashboard();
      const expected = referenceDashboard(newestFirst, new Date(now));
      assert.equal(JSON.stringify({ days: got.days, topUsers: got.topUsers, topDevices: got.topDevices, eventsInWindow: got.eventsInWindow }), JSON.stringify(expected));
    });
  }

  it('orders the top lists by count, then by name as localeCompare does, then as first met', async () => {
    const dashboard = await new ConsoleService(store, chain.link, { now: () => new Date(NOW) }).dashboard();
    const emileFirstMet = newestFirst.find((row) => row.osUser.normalize('NFC') === '\u00e9mile' && row.occurredAt >= iso(TOP_FROM))?.osUser;
    assert.ok(emileFirstMet !== undefined);
    assert.deepEqual(dashboard.topUsers, [
      { key: 'zed@PC-1', count: 8 },
      { key: 'a@b@c', count: 6 },
      { key: 'alice@PC-4', count: 4 },
      { key: 'Alice@PC-4', count: 4 },
      { key: 'ALICE@PC-4', count: 4 },
      { key: 'bob@PC-4', count: 4 },
      { key: 'Bob@PC-4', count: 4 },
      { key: 'carl@PC-4', count: 4 },
      { key: 'dave@PC-4', count: 4 },
      { key: `${emileFirstMet}@PC-4`, count: 4 },
    ]);
    assert.deepEqual(dashboard.topDevices.slice(0, 4), [
      { key: 'USB-Z / SN-Z', count: 8 },
      { key: 'A / B', count: 6 },
      { key: 'USB-alice / SN-alice', count: 4 },
      { key: 'USB-Alice / SN-Alice', count: 4 },
    ]);
    assert.ok(!dashboard.topUsers.some((u) => u.key.startsWith('ghost') || u.key.startsWith('heavy')));
  });
});
