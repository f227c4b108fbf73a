// What the load work must not change: a revocation stops an agent on its next call over the connection it
// already has open, a poll shows in the agents list at once, and expired sessions are purged.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { customerZones, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { assertCleanClientError, type PersonClient } from './helpers/http.js';

describe('poll path and housekeeping', () => {
  const dir = tempDir();
  let fixture: ServerFixture;
  let admin: PersonClient;
  let agent: EnrolledAgent;

  before(async () => {
    fixture = await ServerFixture.create(dir.path);
    admin = await fixture.person('admin1', 'admin');
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones: customerZones() } });
    agent = await fixture.enrol(admin, 'lgwan', 'PC-LG-01');
  });
  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  it('shows a poll in the agents list at once, with the revision the agent now holds', async () => {
    const poll = await agent.client.call('/agent/v1/bundle');
    assert.equal(poll.status, 200, poll.text);
    const revision = (JSON.parse((poll.json as { payload: string }).payload) as { revision: number }).revision;
    const idle = await agent.client.call('/agent/v1/bundle', { headers: { 'if-none-match': String(poll.headers.etag) } });
    assert.equal(idle.status, 304);
    const { agents } = await admin.expect<{ agents: { id: string; lastSeenAt: string | null; lastBundleRevision: number | null }[] }>(200, '/api/v1/agents');
    const listed = agents.find((a) => a.id === agent.id);
    assert.equal(listed?.lastSeenAt, fixture.clock.now().toISOString());
    assert.equal(listed?.lastBundleRevision, revision);
  });

  it('refuses a revoked agent on its next call over the same kept-alive connection', async () => {
    const other = await fixture.enrol(admin, 'internet', 'PC-IN-01');
    assert.equal((await other.client.call('/agent/v1/bundle')).status, 200);
    await admin.expect(204, `/api/v1/agents/${other.id}/revoke`, { method: 'POST' });
    assertCleanClientError(await other.client.call('/agent/v1/bundle'), 403, 'AGENT_REVOKED');
    assert.equal((await agent.client.call('/agent/v1/bundle')).status, 200, 'another agent is not affected');
  });

  it('purges only the sessions past their expiry', async () => {
    const auditor = await fixture.person('auditor1', 'auditor');
    await auditor.expect(200, '/api/v1/events');
    fixture.clock.advanceHours(9);
    const fresh = await fixture.login('admin1');
    assert.equal(await fixture.server.services.users.purgeExpiredSessions(), 2, "both sessions made 9 hours ago (the 8-hour default lifetime)");
    assert.equal(await fixture.server.services.users.purgeExpiredSessions(), 0);
    assertCleanClientError(await auditor.call('/api/v1/events'), 401, 'UNAUTHENTICATED');
    await fresh.expect(200, '/api/v1/agents');
  });
});
