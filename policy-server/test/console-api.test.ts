// The console's own API (/api/v1/console/*) against a real server: role checks, the dashboard numbers, the
// streamed CSV over several read pages, the chain check around one row after the database is tampered with.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chainEvent, GENESIS_HASH, type ExportEvent } from '@exitseal/core/wire';
import { csvField } from '../src/services/console.js';
import { customerZones, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { assertCleanClientError, expectStatus, type PersonClient } from './helpers/http.js';

/** More than one read page (5000 rows), so the CSV must follow the keyset across pages. */
const BULK_EVENTS = 12_001;
const HOSTILE_NAMES = ['=HYPERLINK("http://x","y").xlsx', 'a,b "quoted".txt', '+1.csv', '@SUM(A1).csv', 'line\nbreak.txt'];

function makeEvents(count: number, start: { previous: string; at: number }, shape: (i: number) => Partial<ExportEvent> = () => ({})): { events: ExportEvent[]; previous: string } {
  const events: ExportEvent[] = [];
  let previous = start.previous;
  for (let i = 0; i < count; i++) {
    const event = chainEvent(previous, {
      eventId: randomUUID(),
      occurredAt: new Date(start.at + i * 1000).toISOString(),
      host: 'PC-LGWAN-002',
      osUser: i % 3 === 0 ? 'suzuki' : 'tanaka',
      zoneId: 'lgwan',
      channel: 'removableMedia',
      device: { vendorId: '0781', productId: '5581', serial: i % 2 === 0 ? 'SN-EVEN' : 'SN-ODD', label: 'STICK' },
      fileName: `file-${i}.docx`,
      size: i,
      sha256: 'ef'.repeat(32),
      action: i % 10 === 0 ? 'blocked' : 'sealed',
      ...shape(i),
    });
    events.push(event);
    previous = event.hash;
  }
  return { events, previous };
}

function csvRows(text: string): string[] {
  assert.ok(text.startsWith('\uFEFF'), 'UTF-8 BOM so spreadsheet programs read Japanese file names');
  return text.slice(1).split('\r\n').slice(0, -1);
}

describe('console API', () => {
  let dir: ReturnType<typeof tempDir>;
  let fixture: ServerFixture;
  let admin: PersonClient;
  let auditor: PersonClient;
  let approver: PersonClient;
  let staff: PersonClient;
  let agent: EnrolledAgent;
  let previous = GENESIS_HASH;

  async function upload(events: ExportEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 1000) {
      await expectStatus(agent.client, 200, '/agent/v1/events', { body: { events: events.slice(i, i + 1000) } });
    }
  }

  before(async () => {
    dir = tempDir();
    fixture = await ServerFixture.create(dir.path);
    admin = await fixture.person('admin1', 'admin');
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones: customerZones() } });
    auditor = await fixture.person('auditor1', 'auditor');
    approver = await fixture.person('approver1', 'approver');
    staff = await fixture.person('tanaka', 'staff');
    agent = await fixture.enrol(admin, 'lgwan', 'PC-LGWAN-002');
    // 30 events over the last 30 hours before the fixture's "now" (2025-04-01T09:00Z), hostile names among them.
    const recent = makeEvents(30, { previous, at: Date.parse('2025-03-31T03:00:00Z') }, (i) => ({
      occurredAt: new Date(Date.parse('2025-03-31T03:00:00Z') + i * 3600_000).toISOString(),
      ...(i < HOSTILE_NAMES.length ? { fileName: HOSTILE_NAMES[i] } : {}),
    }));
    previous = recent.previous;
    await upload(recent.events);
  });

  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  it('refuses the console routes without a session, and to roles that may not see the log', async () => {
    for (const path of ['/api/v1/console/dashboard', '/api/v1/console/events/1', '/api/v1/console/events.csv', '/api/v1/console/agents']) {
      assertCleanClientError(await fixture.anonymous.call(path), 401, 'UNAUTHENTICATED');
      assertCleanClientError(await approver.call(path), 403, 'ROLE_FORBIDDEN');
      assertCleanClientError(await staff.call(path), 403, 'ROLE_FORBIDDEN');
    }
  });

  it('counts the dashboard: per day by action and zone, top users and devices, agents, pending requests', async () => {
    await expectStatus(agent.client, 200, '/agent/v1/bundle');
    const dash = await auditor.expect<{
      days: { day: string; byAction: Record<string, number>; byZone: Record<string, number> }[];
      topUsers: { key: string; count: number }[];
      topDevices: { key: string; count: number }[];
      agents: { online: number; offline: number; revoked: number };
      pendingRequests: number;
      eventsInWindow: number;
    }>(200, '/api/v1/console/dashboard');
    assert.equal(dash.days.length, 14);
    assert.equal(dash.days[13]?.day, '2025-04-01');
    assert.equal(dash.eventsInWindow, 30);
    const sum = (key: 'byAction' | 'byZone') => dash.days.reduce((n, d) => n + Object.values(d[key]).reduce((a, b) => a + b, 0), 0);
    assert.equal(sum('byAction'), 30);
    assert.equal(sum('byZone'), 30);
    // 03:00Z..23:00Z on 03-31 is 21 events (3 of them blocked); the other 9 are on 04-01.
    assert.deepEqual(dash.days[12], { day: '2025-03-31', byAction: { blocked: 3, sealed: 18 }, byZone: { lgwan: 21 } });
    assert.deepEqual(dash.days[13], { day: '2025-04-01', byAction: { sealed: 9 }, byZone: { lgwan: 9 } });
    assert.deepEqual(dash.topUsers, [
      { key: 'tanaka@PC-LGWAN-002', count: 20 },
      { key: 'suzuki@PC-LGWAN-002', count: 10 },
    ]);
    assert.deepEqual(dash.topDevices, [
      { key: 'STICK / SN-EVEN', count: 15 },
      { key: 'STICK / SN-ODD', count: 15 },
    ]);
    assert.deepEqual(dash.agents, { online: 1, offline: 0, revoked: 0 });
    assert.equal(dash.pendingRequests, 0);
  });

  it('lists agents as online until 15 minutes without contact, with whether they hold the current policy', async () => {
    const fresh = await admin.expect<{ agents: { hostname: string; online: boolean; policyCurrent: boolean }[] }>(200, '/api/v1/console/agents');
    assert.deepEqual(fresh.agents.map((a) => [a.hostname, a.online, a.policyCurrent]), [['PC-LGWAN-002', true, true]]);
    await admin.expect(201, '/api/v1/zones/lgwan/keys', { method: 'POST' });
    fixture.clock.advanceHours(1);
    const later = await auditor.expect<{ agents: { online: boolean; policyCurrent: boolean }[] }>(200, '/api/v1/console/agents');
    assert.deepEqual(later.agents.map((a) => [a.online, a.policyCurrent]), [[false, false]]);
  });

  it('streams every matching row as CSV across read pages, newest first, and audits the export', async () => {
    const bulk = makeEvents(BULK_EVENTS, { previous, at: Date.parse('2025-02-01T00:00:00Z') });
    previous = bulk.previous;
    await upload(bulk.events);
    const response = await auditor.call('/api/v1/console/events.csv?from=2025-02-01&to=2025-02-28');
    assert.equal(response.status, 200, response.text.slice(0, 300));
    assert.equal(response.headers['content-type'], 'text/csv; charset=utf-8');
    assert.match(String(response.headers['content-disposition']), /^attachment; filename="exitseal-export-log-\d{8}T\d{6}\.csv"$/);
    const rows = csvRows(response.text);
    assert.equal(rows[0]?.split(',')[0], 'seq');
    const seqs = rows.slice(1).map((r) => Number(r.split(',')[0]));
    assert.equal(seqs.length, BULK_EVENTS);
    assert.ok(seqs.every((s, i) => i === 0 || s === (seqs[i - 1] ?? 0) - 1), 'every row once, newest first, no gap at page boundaries');

    const even = csvRows((await auditor.call('/api/v1/console/events.csv?deviceSerial=SN-EVEN&from=2025-02-01&to=2025-02-28')).text);
    assert.equal(even.length - 1, Math.ceil(BULK_EVENTS / 2));
    assert.ok(even.slice(1).every((r) => r.includes(',SN-EVEN,')));

    const audit = await auditor.expect<{ entries: { actor: string; action: string; detail: string }[] }>(200, '/api/v1/audit?limit=5');
    const exported = audit.entries.find((e) => e.action === 'log.export-csv');
    assert.equal(exported?.actor, 'auditor1');
    assert.deepEqual(JSON.parse(exported?.detail ?? '{}'), { filter: { deviceSerial: 'SN-EVEN', from: '2025-02-01', to: '2025-02-28' } });
  });

  it('quotes CSV fields and defuses values a spreadsheet would run as formulas', async () => {
    const text = (await auditor.call('/api/v1/console/events.csv?from=2025-03-31&to=2025-04-02')).text;
    assert.ok(text.includes(`,"'=HYPERLINK(""http://x"",""y"").xlsx",`));
    assert.ok(text.includes(',"a,b ""quoted"".txt",'));
    assert.ok(text.includes(",'+1.csv,"));
    assert.ok(text.includes(",'@SUM(A1).csv,"));
    assert.ok(text.includes(',"line\nbreak.txt",'));
    assert.equal(csvField(null), '');
    assert.equal(csvField(-5), '-5', 'numbers are numbers, not formulas');
    assert.equal(csvField(false), 'false');
    assert.equal(csvField('-1+2'), "'-1+2");
    assert.equal(csvField('\tx'), "'\tx");
  });

  it('searches by device label and pages a sort by size through nextAfter without losing or repeating a row', async () => {
    type Page = { events: { seq: number; size: number; deviceLabel: string | null }[]; nextAfter?: string; nextCursor?: number };
    const labelled = await auditor.expect<Page>(200, '/api/v1/events?deviceLabel=STICK&limit=3');
    assert.equal(labelled.events.length, 3);
    assert.ok(labelled.events.every((e) => e.deviceLabel === 'STICK'));
    assert.equal((await auditor.expect<Page>(200, '/api/v1/events?deviceLabel=NO-SUCH-LABEL')).events.length, 0);
    assert.equal(csvRows((await auditor.call('/api/v1/console/events.csv?deviceLabel=NO-SUCH-LABEL')).text).length, 1, 'the CSV filters by label too: header only');

    const all = await auditor.expect<Page>(200, '/api/v1/events?from=2025-03-31T03:00:00Z&to=2025-04-01T09:00:00Z&limit=1000');
    const expected = [...all.events].sort((a, b) => b.size - a.size || b.seq - a.seq).map((e) => e.seq);
    const got: number[] = [];
    let after: string | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await auditor.expect<Page>(200, `/api/v1/events?from=2025-03-31T03:00:00Z&to=2025-04-01T09:00:00Z&sort=size&order=desc&limit=4${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`);
      assert.equal(page.nextCursor, undefined, 'a sorted page is continued with after, not before');
      got.push(...page.events.map((e) => e.seq));
      if (page.nextAfter === undefined) break;
      after = page.nextAfter;
    }
    assert.equal(got.length, 30);
    assert.deepEqual(got, expected);
  });

  it('refuses a bad sort or cursor with a clear client error', async () => {
    assertCleanClientError(await auditor.call('/api/v1/events?sort=chain_hash'), 400, 'VALIDATION_FAILED');
    assertCleanClientError(await auditor.call('/api/v1/events?sort=size&order=sideways'), 400, 'VALIDATION_FAILED');
    assertCleanClientError(await auditor.call('/api/v1/events?sort=size&after=not-a-cursor'), 400, 'CURSOR_INVALID');
    assertCleanClientError(await auditor.call('/api/v1/events?sort=size&after=12:large'), 400, 'CURSOR_INVALID');
    assertCleanClientError(await auditor.call('/api/v1/events?sort=fileName&after=12:a&before=10'), 400, 'CURSOR_INVALID');
    assertCleanClientError(await staff.call('/api/v1/events?sort=size'), 403, 'ROLE_FORBIDDEN');
  });

  it('refuses a bad CSV filter with a clear client error', async () => {
    assertCleanClientError(await auditor.call('/api/v1/console/events.csv?sha256=xyz'), 400, 'VALIDATION_FAILED');
    assertCleanClientError(await auditor.call('/api/v1/console/events.csv?from=2025-13-45'), 400, 'TIME_INVALID');
    assertCleanClientError(await auditor.call('/api/v1/console/events.csv?unknown=1'), 400, 'VALIDATION_FAILED');
  });

  it('shows one row with its chain verified around it; an unknown or malformed row number is a client error', async () => {
    const first = await auditor.expect<{ event: { seq: number; fileName: string }; chain: { row: string; next: string; agentChainOk: boolean } }>(200, '/api/v1/console/events/1');
    assert.equal(first.event.fileName, HOSTILE_NAMES[0]);
    assert.deepEqual(first.chain, { row: 'ok', next: 'ok', agentChainOk: true });
    const count = await fixture.server.services.store.events.count();
    const newest = await auditor.expect<{ chain: { row: string; next: string } }>(200, `/api/v1/console/events/${count}`);
    assert.deepEqual(newest.chain, { row: 'ok', next: 'none', agentChainOk: true });
    assertCleanClientError(await auditor.call(`/api/v1/console/events/${count + 1}`), 404, 'NOT_FOUND');
    assertCleanClientError(await auditor.call('/api/v1/console/events/abc'), 400, 'VALIDATION_FAILED');
  });

  it('flags an edited row and the neighbours of a deleted one', async () => {
    execFileSync('sqlite3', [join(dir.path, 'exitseal.db'), "UPDATE export_events SET action = 'sealed' WHERE seq = 11; DELETE FROM export_events WHERE seq = 20;"]);
    const chainOf = async (seq: number) => (await auditor.expect<{ chain: { row: string; next: string } }>(200, `/api/v1/console/events/${seq}`)).chain;
    assert.deepEqual(await chainOf(11), { row: 'broken', next: 'ok', agentChainOk: true });
    assert.deepEqual(await chainOf(10), { row: 'ok', next: 'broken', agentChainOk: true });
    assert.deepEqual(await chainOf(19), { row: 'ok', next: 'missing', agentChainOk: true });
    assert.deepEqual(await chainOf(21), { row: 'missing', next: 'ok', agentChainOk: true });
    assertCleanClientError(await auditor.call('/api/v1/console/events/20'), 404, 'NOT_FOUND');
  });

  it("gives staff only their own requests, without the sealed header", async () => {
    for (const osUser of ['tanaka', 'suzuki']) {
      await expectStatus(agent.client, 201, '/agent/v1/requests/release', {
        body: { fileName: `${osUser}.csv`, size: 10, sha256: 'aa'.repeat(32), reason: 'r', destination: 'd', osUser },
      });
    }
    const mine = await staff.expect<{ requests: { osUser: string; fileName: string; detail: Record<string, unknown> }[] }>(200, '/api/v1/console/my-requests');
    assert.deepEqual(mine.requests.map((r) => [r.osUser, r.fileName]), [['tanaka', 'tanaka.csv']]);
    assert.equal('header' in (mine.requests[0]?.detail ?? {}), false);
    // Staff cannot read the approvers' list of everyone's requests.
    assertCleanClientError(await staff.call('/api/v1/requests'), 403, 'ROLE_FORBIDDEN');
  });
});
