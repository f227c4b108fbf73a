// An agent's backlog (events not uploaded, seals pending, files quarantined) over real HTTPS with the agent's
// client certificate: reported with a poll and with an upload, checked at the boundary, kept with the time it
// arrived, and shown in both agents APIs with the marks the Agents page uses (large, stale).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { chainEvent, GENESIS_HASH, type ExportEvent } from '@exitseal/core/wire';
import { customerZones, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { assertCleanClientError, expectStatus, type PersonClient } from './helpers/http.js';

interface ListedAgent {
  id: string;
  backlog: { outboxEvents: number; pendingJobs: number; quarantinedFiles: number; reportedAt: string } | null;
}
interface ConsoleAgent extends ListedAgent {
  backlogLarge: boolean;
  backlogStale: boolean;
}

function oneEvent(previous: string, at: string): ExportEvent {
  return chainEvent(previous, {
    eventId: randomUUID(),
    occurredAt: at,
    host: 'PC-LG-01',
    osUser: 'tanaka',
    zoneId: 'lgwan',
    channel: 'removableMedia',
    fileName: 'budget.xlsx',
    size: 10,
    action: 'sealed',
  });
}

describe('agent backlog', () => {
  const dir = tempDir();
  let fixture: ServerFixture;
  let admin: PersonClient;
  let auditor: PersonClient;
  let agent: EnrolledAgent;
  let silent: EnrolledAgent;

  const consoleAgent = async (id: string): Promise<ConsoleAgent | undefined> =>
    (await auditor.expect<{ agents: ConsoleAgent[] }>(200, '/api/v1/console/agents')).agents.find((a) => a.id === id);
  const listedAgent = async (id: string): Promise<ListedAgent | undefined> =>
    (await admin.expect<{ agents: ListedAgent[] }>(200, '/api/v1/agents')).agents.find((a) => a.id === id);

  before(async () => {
    fixture = await ServerFixture.create(dir.path);
    admin = await fixture.person('admin1', 'admin');
    auditor = await fixture.person('auditor1', 'auditor');
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones: customerZones() } });
    agent = await fixture.enrol(admin, 'lgwan', 'PC-LG-01');
    silent = await fixture.enrol(admin, 'internet', 'PC-IN-01');
  });
  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  it('keeps the backlog a poll reports, with the time it arrived, also on a 304 poll', async () => {
    const first = await agent.client.call('/agent/v1/bundle?outboxEvents=5&pendingJobs=2&quarantinedFiles=1');
    assert.equal(first.status, 200, first.text);
    const reportedAt = fixture.clock.now().toISOString();
    assert.deepEqual((await listedAgent(agent.id))?.backlog, { outboxEvents: 5, pendingJobs: 2, quarantinedFiles: 1, reportedAt });

    fixture.clock.advanceHours(0.1);
    const idle = await agent.client.call('/agent/v1/bundle?outboxEvents=0&pendingJobs=0&quarantinedFiles=1', { headers: { 'if-none-match': String(first.headers.etag) } });
    assert.equal(idle.status, 304);
    const listed = await consoleAgent(agent.id);
    assert.deepEqual(listed?.backlog, { outboxEvents: 0, pendingJobs: 0, quarantinedFiles: 1, reportedAt: fixture.clock.now().toISOString() });
    assert.equal(listed?.backlogLarge, false);
    assert.equal(listed?.backlogStale, false);
  });

  it('keeps the backlog an event upload carries (what is left after the batch), and a poll without one keeps it', async () => {
    fixture.clock.advanceHours(0.1);
    const event = oneEvent(GENESIS_HASH, fixture.clock.now().toISOString());
    const result = await expectStatus<{ accepted: number }>(agent.client, 200, '/agent/v1/events', {
      body: { events: [event], backlog: { outboxEvents: 2500, pendingJobs: 0, quarantinedFiles: 0 } },
    });
    assert.equal(result.accepted, 1);
    const uploadedAt = fixture.clock.now().toISOString();
    const listed = await consoleAgent(agent.id);
    assert.deepEqual(listed?.backlog, { outboxEvents: 2500, pendingJobs: 0, quarantinedFiles: 0, reportedAt: uploadedAt });
    assert.equal(listed?.backlogLarge, true, '2500 events waiting is more than a full upload batch');

    fixture.clock.advanceHours(0.1);
    await expectStatus(agent.client, 200, '/agent/v1/bundle');
    assert.equal((await consoleAgent(agent.id))?.backlog?.reportedAt, uploadedAt, 'a poll from an agent that sends no backlog keeps the last one');
  });

  it('marks a backlog stale 15 minutes after its report, and an agent that never reported one', async () => {
    await expectStatus(silent.client, 200, '/agent/v1/bundle');
    const never = await consoleAgent(silent.id);
    assert.equal(never?.backlog, null);
    assert.equal(never?.backlogStale, true);
    await expectStatus(agent.client, 200, '/agent/v1/bundle?outboxEvents=0&pendingJobs=0&quarantinedFiles=0');
    assert.equal((await consoleAgent(agent.id))?.backlogStale, false);
    fixture.clock.advanceHours(0.25);
    assert.equal((await consoleAgent(agent.id))?.backlogStale, true);
  });

  it('refuses malformed backlogs at the boundary and keeps the last good one', async () => {
    await expectStatus(agent.client, 200, '/agent/v1/bundle?outboxEvents=7&pendingJobs=0&quarantinedFiles=0');
    const good = (await listedAgent(agent.id))?.backlog;
    for (const query of [
      'outboxEvents=-1&pendingJobs=0&quarantinedFiles=0',
      'outboxEvents=1e3&pendingJobs=0&quarantinedFiles=0',
      'outboxEvents=01&pendingJobs=0&quarantinedFiles=0',
      'outboxEvents=1000000001&pendingJobs=0&quarantinedFiles=0',
      'outboxEvents=99999999999&pendingJobs=0&quarantinedFiles=0',
      'outboxEvents=1&pendingJobs=0',
      'outboxEvents=1&pendingJobs=0&quarantinedFiles=0&extra=1',
    ]) {
      assertCleanClientError(await agent.client.call(`/agent/v1/bundle?${query}`), 400);
    }
    const event = oneEvent(GENESIS_HASH, fixture.clock.now().toISOString());
    for (const backlog of [
      { outboxEvents: -1, pendingJobs: 0, quarantinedFiles: 0 },
      { outboxEvents: 1.5, pendingJobs: 0, quarantinedFiles: 0 },
      { outboxEvents: 1_000_000_001, pendingJobs: 0, quarantinedFiles: 0 },
      { outboxEvents: '1', pendingJobs: 0, quarantinedFiles: 0 },
      { outboxEvents: 1, pendingJobs: 0 },
      { outboxEvents: 1, pendingJobs: 0, quarantinedFiles: 0, extra: 1 },
    ]) {
      assertCleanClientError(await agent.client.call('/agent/v1/events', { body: { events: [event], backlog } }), 400);
    }
    assert.deepEqual((await listedAgent(agent.id))?.backlog, good, 'nothing of a refused report was kept');
  });

  it('takes a backlog only from an authenticated agent', async () => {
    assertCleanClientError(await fixture.anonymous.call('/agent/v1/bundle?outboxEvents=1&pendingJobs=1&quarantinedFiles=1'), 401, 'UNAUTHENTICATED');
  });
});
