import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chainEvent, GENESIS_HASH, type ExportEvent } from '@exitseal/core/wire';
import { createAgentCsr, createCertificateAuthority, signAgentCsr } from '../src/pki/forge.js';
import { customerZones, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { assertCleanClientError, PersonClient, type HttpsClient } from './helpers/http.js';

function event(overrides: Partial<ExportEvent> = {}): ExportEvent {
  return chainEvent(GENESIS_HASH, {
    eventId: crypto.randomUUID(),
    occurredAt: '2025-04-01T09:00:00.000Z',
    host: 'PC-1',
    osUser: 'tanaka',
    zoneId: 'lgwan',
    channel: 'removableMedia',
    fileName: 'a.txt',
    size: 1,
    action: 'sealed',
    ...overrides,
  });
}

describe('hostile input: every call a clean 4xx and nothing written', () => {
  const dir = tempDir();
  let fixture: ServerFixture;
  let admin: PersonClient;
  let agent: EnrolledAgent;
  let revoked: EnrolledAgent;

  async function counts(): Promise<string> {
    const store = fixture.server.services.store;
    return JSON.stringify({
      events: await store.events.count(),
      agents: (await store.agents.list()).length,
      requests: (await store.requests.list({ limit: 1000 })).length,
      users: (await store.users.list()).length,
      zones: (await store.zones.list()).length,
    });
  }

  async function expectNothingWritten(calls: () => Promise<void>): Promise<void> {
    const before = await counts();
    await calls();
    assert.equal(await counts(), before);
  }

  before(async () => {
    fixture = await ServerFixture.create(dir.path, { bodyLimitBytes: 64 * 1024 });
    admin = await fixture.person('admin1', 'admin');
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones: customerZones() } });
    agent = await fixture.enrol(admin, 'lgwan', 'PC-LG-01');
    revoked = await fixture.enrol(admin, 'lgwan', 'PC-LG-02');
    await admin.expect(204, `/api/v1/agents/${revoked.id}/revoke`, { method: 'POST' });
  });

  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  it('refuses agent calls without a client certificate, with a foreign CA\'s certificate, or from a revoked agent', async () => {
    const foreignCa = createCertificateAuthority('Evil CA', new Date());
    const { keyPem, csrPem } = createAgentCsr('evil');
    const foreign = fixture.client({ cert: signAgentCsr(foreignCa, csrPem, agent.id, 30, new Date()).certificatePem, key: keyPem });
    await expectNothingWritten(async () => {
      for (const client of [fixture.anonymous, foreign]) {
        assertCleanClientError(await client.call('/agent/v1/bundle'), 401, 'UNAUTHENTICATED');
        assertCleanClientError(await client.call('/agent/v1/events', { body: { events: [event()] } }), 401, 'UNAUTHENTICATED');
      }
      assertCleanClientError(await revoked.client.call('/agent/v1/bundle'), 403, 'AGENT_REVOKED');
      assertCleanClientError(await revoked.client.call('/agent/v1/events', { body: { events: [event()] } }), 403, 'AGENT_REVOKED');
      assertCleanClientError(
        await revoked.client.call('/agent/v1/requests/release', { body: { fileName: 'a', size: 1, sha256: 'a'.repeat(64), reason: 'r', destination: 'd', osUser: 'u' } }),
        403,
        'AGENT_REVOKED',
      );
    });
  });

  it('refuses malformed JSON, wrong types, unknown fields, oversized bodies and a forged event hash', async () => {
    const c: HttpsClient = agent.client;
    await expectNothingWritten(async () => {
      assertCleanClientError(await c.call('/agent/v1/events', { rawBody: '{"events": [', method: 'POST' }), 400, 'MALFORMED_JSON');
      assertCleanClientError(await c.call('/agent/v1/events', { rawBody: 'events=1', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415);
      assertCleanClientError(await c.call('/agent/v1/events', { body: { events: [{ ...event(), size: '12' }] } }), 400, 'VALIDATION_FAILED');
      assertCleanClientError(await c.call('/agent/v1/events', { body: { events: [{ ...event(), size: -1 }] } }), 400, 'VALIDATION_FAILED');
      assertCleanClientError(await c.call('/agent/v1/events', { body: { events: [{ ...event(), admin: true }] } }), 400, 'VALIDATION_FAILED');
      assertCleanClientError(await c.call('/agent/v1/events', { body: { events: 'all' } }), 400, 'VALIDATION_FAILED');
      assertCleanClientError(await c.call('/agent/v1/events', { body: [] }), 400, 'VALIDATION_FAILED');
      const huge = { events: [event({ reason: 'x'.repeat(2000) })], padding: 'y'.repeat(100 * 1024) };
      assertCleanClientError(await c.call('/agent/v1/events', { body: huge }), 413, 'BODY_TOO_LARGE');
      const good = event();
      assertCleanClientError(await c.call('/agent/v1/events', { body: { events: [good, { ...event(), fileName: 'edited.txt' }] } }), 400, 'EVENT_HASH_MISMATCH');
      assertCleanClientError(await c.call('/agent/v1/events', { body: { events: [event({ occurredAt: '2025-13-45T99:99:99Z' })] } }), 400, 'EVENT_TIME_INVALID');
      assertCleanClientError(await admin.call('/api/v1/zones/lgwan', { method: 'PUT', rawBody: '{"zone":' }), 400, 'MALFORMED_JSON');
      assertCleanClientError(await admin.call('/api/v1/users', { body: { username: 'x', role: 'root', password: 'p'.repeat(20) } }), 400, 'VALIDATION_FAILED');
      assertCleanClientError(await fixture.anonymous.call('/no/such/route'), 404, 'NOT_FOUND');
    });
  });

  it('treats SQL-looking strings as data or refuses them by schema', async () => {
    const injection = "x'); DROP TABLE export_events; --";
    await expectNothingWritten(async () => {
      assertCleanClientError(await agent.client.call('/agent/v1/events', { body: { events: [event({ zoneId: injection })] } }), 400, 'VALIDATION_FAILED');
      assertCleanClientError(await admin.call(`/api/v1/events?zoneId=${encodeURIComponent(injection)}`), 400, 'VALIDATION_FAILED');
      const search = await admin.expect<{ events: unknown[] }>(200, `/api/v1/events?osUser=${encodeURIComponent("' OR '1'='1")}`);
      assert.equal(search.events.length, 0);
      assertCleanClientError(await new PersonClient(fixture.anonymous).login("admin1' --", 'x'), 401, 'UNAUTHENTICATED');
    });
    // As a value it is stored verbatim and found only by an exact match.
    const stored = event({ osUser: injection, fileName: injection });
    await agent.client.call('/agent/v1/events', { body: { events: [stored] } });
    const found = await admin.expect<{ events: { osUser: string }[] }>(200, `/api/v1/events?osUser=${encodeURIComponent(injection)}`);
    assert.deepEqual(found.events.map((e) => e.osUser), [injection]);
    assert.equal(await fixture.server.services.store.events.count(), 1);
  });

  it('refuses expired, reused and unknown enrolment tokens, and a CSR that is not one', async () => {
    const { token } = await admin.expect<{ token: string }>(201, '/api/v1/enrolment-tokens', { body: { zoneId: 'lgwan', validHours: 1 } });
    const { csrPem } = createAgentCsr('PC-X');
    const body = { token, csrPem, hostname: 'PC-X', osName: 'Windows 11', agentVersion: '0.1.0' };
    await expectNothingWritten(async () => {
      assertCleanClientError(await fixture.anonymous.call('/agent/v1/enrol', { body: { ...body, csrPem: `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(200)}\n-----END CERTIFICATE REQUEST-----` } }), 400, 'CSR_INVALID');
      assertCleanClientError(await fixture.anonymous.call('/agent/v1/enrol', { body: { ...body, zoneId: 'mynumber' } }), 403, 'ZONE_PINNED');
      fixture.clock.advanceHours(2);
      assertCleanClientError(await fixture.anonymous.call('/agent/v1/enrol', { body }), 401, 'ENROLMENT_TOKEN_EXPIRED');
      assertCleanClientError(await fixture.anonymous.call('/agent/v1/enrol', { body: { ...body, token: 'A'.repeat(43) } }), 401, 'ENROLMENT_TOKEN_INVALID');
    });
    const fresh = await admin.expect<{ token: string }>(201, '/api/v1/enrolment-tokens', { body: { zoneId: 'lgwan', validHours: 1 } });
    const first = await fixture.anonymous.call('/agent/v1/enrol', { body: { ...body, token: fresh.token } });
    assert.equal(first.status, 200, first.text);
    await expectNothingWritten(async () => {
      assertCleanClientError(await fixture.anonymous.call('/agent/v1/enrol', { body: { ...body, token: fresh.token } }), 401, 'ENROLMENT_TOKEN_USED');
    });
  });

  it('protects people routes: session, CSRF token, role, and login rate limit', async () => {
    const staff = await fixture.person('staff1', 'staff');
    await expectNothingWritten(async () => {
      assertCleanClientError(await fixture.anonymous.call('/api/v1/zones'), 401, 'UNAUTHENTICATED');
      assertCleanClientError(await fixture.anonymous.call('/api/v1/users', { body: { username: 'mallory', role: 'admin', password: 'p'.repeat(20) } }), 401);
      assertCleanClientError(await admin.call('/api/v1/users', { body: { username: 'mallory', role: 'admin', password: 'p'.repeat(20) }, headers: { 'x-csrf-token': '' } }), 403, 'CSRF_TOKEN_INVALID');
      assertCleanClientError(await admin.call('/api/v1/users', { body: { username: 'mallory', role: 'admin', password: 'p'.repeat(20) }, headers: { 'x-csrf-token': 'A'.repeat(43) } }), 403, 'CSRF_TOKEN_INVALID');
      assertCleanClientError(await staff.call('/api/v1/users', { body: { username: 'mallory', role: 'admin', password: 'p'.repeat(20) } }), 403, 'ROLE_FORBIDDEN');
      assertCleanClientError(await staff.call('/api/v1/events'), 403, 'ROLE_FORBIDDEN');
      assertCleanClientError(await admin.call('/api/v1/users', { body: { username: 'shorty', role: 'staff', password: 'short' } }), 400, 'PASSWORD_TOO_SHORT');
      const guesser = new PersonClient(fixture.anonymous);
      for (let i = 0; i < 5; i++) assertCleanClientError(await guesser.login('admin1', `guess-${i}`), 401, 'UNAUTHENTICATED');
      assertCleanClientError(await guesser.login('admin1', 'correct horse battery staple'), 429, 'LOGIN_RATE_LIMITED');
    });
  });

  it('serves an OpenAPI document generated from the route schemas', async () => {
    const response = await fixture.anonymous.call('/openapi.json');
    assert.equal(response.status, 200);
    const doc = response.json as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    for (const path of ['/agent/v1/enrol', '/agent/v1/bundle', '/agent/v1/events', '/api/v1/requests/{id}/decision']) assert.ok(path in doc.paths, path);
  });
});
