import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { createSealer, openStream, X25519Identity, X25519Recipient } from '@exitseal/core';
import { VerifyKey, verifyBundle, type BundlePayload, type SignedBundle } from '@exitseal/core/policy';
import { chainEvent, GENESIS_HASH, type ExportEvent } from '@exitseal/core/wire';
import { cli, customerZones, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { expectStatus, type PersonClient } from './helpers/http.js';

function makeEvents(agent: EnrolledAgent, count: number, previous = GENESIS_HASH): ExportEvent[] {
  const events: ExportEvent[] = [];
  let prev = previous;
  for (let i = 0; i < count; i++) {
    const event = chainEvent(prev, {
      eventId: crypto.randomUUID(),
      occurredAt: new Date(Date.UTC(2025, 3, 1, 9, 0, i)).toISOString(),
      host: `PC-${agent.zoneId}`,
      osUser: 'tanaka',
      zoneId: agent.zoneId,
      channel: 'removableMedia',
      device: { vendorId: '0781', productId: '5581', serial: `SN${i}`, label: 'KIOXIA', mount: 'E:\\' },
      fileName: `住民票-${i}.xlsx`,
      mediaPath: `E:\\export\\住民票-${i}.xlsx`,
      size: 1000 + i,
      sha256: 'ab'.repeat(32),
      fileId: crypto.randomUUID(),
      keyVersion: 1,
      action: 'sealed',
    });
    events.push(event);
    prev = event.hash;
  }
  return events;
}

function seal(recipient: string, zoneId: string, keyVersion: number, plaintext: Buffer): Buffer {
  const sealer = createSealer({ recipients: [X25519Recipient.parse(recipient)], meta: { zoneId, keyVersion } });
  return Buffer.concat([sealer.header, ...sealer.encryptor.push(plaintext), ...sealer.encryptor.finish()]);
}

async function open(file: Buffer, secrets: readonly string[]): Promise<Buffer> {
  const opened = await openStream([file], secrets.map((s) => X25519Identity.parse(s)));
  const parts: Buffer[] = [];
  for await (const part of opened.plaintext) parts.push(part);
  return Buffer.concat(parts);
}

describe('policy server full flow (HTTPS + mTLS on loopback, SQLite on disk)', () => {
  const dir = tempDir();
  let fixture: ServerFixture;
  let admin: PersonClient;
  let auditor: PersonClient;
  let mynumberAgent: EnrolledAgent;
  let lgwanAgent: EnrolledAgent;
  const syslog = createSocket('udp4');
  const syslogMessages: string[] = [];

  before(async () => {
    syslog.on('message', (m) => syslogMessages.push(m.toString('utf8')));
    await new Promise<void>((resolve) => syslog.bind(0, '127.0.0.1', resolve));
    const init = await cli(['init', '--data', dir.path]);
    assert.equal(init.code, 0, init.err);
    fixture = new ServerFixture(dir.path, { syslog: { host: '127.0.0.1', port: syslog.address().port, transport: 'udp', appName: 'exitseal' } });
    await fixture.start();
    admin = await fixture.person('admin1', 'admin');
    auditor = await fixture.person('auditor1', 'auditor');
  });

  after(async () => {
    await fixture.stop();
    syslog.close();
    dir.remove();
  });

  it('creates the customer zones and refuses an invalid policy with every problem listed', async () => {
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones: customerZones() } });
    const bad = customerZones()[0]!;
    bad.zone.detection.cidrs = ['10.1.0.1/16'];
    bad.policy.openableOrigins.push('atlantis');
    const refused = await admin.expect<{ code: string; problems: { path: string }[] }>(422, '/api/v1/zones/mynumber', { method: 'PUT', body: bad });
    assert.equal(refused.code, 'POLICY_INVALID');
    assert.deepEqual(refused.problems.map((p) => p.path).sort(), ['/zones/mynumber/policy/openableOrigins/3', '/zones/mynumber/zone/detection/cidrs/0']);
    const listed = await admin.expect<{ zones: unknown[]; keys: { zoneId: string; version: number }[] }>(200, '/api/v1/zones');
    assert.equal(listed.zones.length, 4);
    assert.deepEqual(listed.keys.map((k) => `${k.zoneId}:${k.version}`).sort(), ['internet:1', 'lgwan:1', 'mynumber:1', 'unknown:1']);
    assert.ok(!JSON.stringify(listed).includes('AGE-SECRET-KEY'), 'private keys never go to a person');
  });

  it('enrols two agents of different zones with CSRs and gives each only the identities its zone may open', async () => {
    mynumberAgent = await fixture.enrol(admin, 'mynumber', 'PC-MN-01');
    lgwanAgent = await fixture.enrol(admin, 'lgwan', 'PC-LG-01');
    const bundles = new Map<string, BundlePayload>();
    for (const agent of [mynumberAgent, lgwanAgent]) {
      const response = await agent.client.call('/agent/v1/bundle');
      assert.equal(response.status, 200, response.text);
      const payload = verifyBundle(response.json, VerifyKey.fromBase64(agent.enrolment.bundleSigningKey));
      assert.equal(payload.agentId, agent.id);
      assert.equal(payload.homeZoneId, agent.zoneId);
      bundles.set(agent.zoneId, payload);
      // Idle poll: same ETag, nothing sent.
      const etag = String(response.headers.etag);
      const again = await agent.client.call('/agent/v1/bundle', { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
      assert.equal(again.text, '');
    }
    const mn = bundles.get('mynumber')!;
    const lg = bundles.get('lgwan')!;
    assert.deepEqual(mn.identities.map((i) => i.zoneId).sort(), ['internet', 'lgwan', 'mynumber']);
    assert.deepEqual(lg.identities.map((i) => i.zoneId).sort(), ['internet', 'lgwan']);
    assert.equal(lg.zones.length, 4);
    assert.deepEqual(lg.policies.map((p) => p.zoneId), ['lgwan', 'unknown']);

    // The matrix holds by cryptography: a My Number file does not open on LGWAN; an LGWAN file opens on My Number.
    const mnFile = seal(mn.sealTo.recipient, 'mynumber', mn.sealTo.keyVersion, Buffer.from('resident record'));
    const lgFile = seal(lg.sealTo.recipient, 'lgwan', lg.sealTo.keyVersion, Buffer.from('lgwan memo'));
    assert.equal((await open(lgFile, mn.identities.map((i) => i.secret))).toString(), 'lgwan memo');
    await assert.rejects(open(mnFile, lg.identities.map((i) => i.secret)), (e: unknown) => (e as { code?: string }).code === 'NO_MATCHING_IDENTITY');
  });

  it('changes the ETag when a key is rotated, and old versions stay in the bundle', async () => {
    const first = await lgwanAgent.client.call('/agent/v1/bundle');
    const rotated = await admin.expect<{ version: number }>(201, '/api/v1/zones/lgwan/keys', { method: 'POST' });
    assert.equal(rotated.version, 2);
    const second = await lgwanAgent.client.call('/agent/v1/bundle', { headers: { 'if-none-match': String(first.headers.etag) } });
    assert.equal(second.status, 200);
    const payload = verifyBundle(second.json, VerifyKey.fromBase64(lgwanAgent.enrolment.bundleSigningKey));
    assert.equal(payload.sealTo.keyVersion, 2);
    assert.deepEqual(payload.identities.filter((i) => i.zoneId === 'lgwan').map((i) => i.keyVersion).sort(), [1, 2]);
  });

  it('ingests events idempotently, forwards them to syslog, and searches them', async () => {
    const batch = makeEvents(mynumberAgent, 25);
    const first = await expectStatus<{ accepted: number; duplicates: number }>(mynumberAgent.client, 200, '/agent/v1/events', { body: { events: batch } });
    assert.deepEqual(first, { accepted: 25, duplicates: 0 });
    const resent = await expectStatus<{ accepted: number; duplicates: number }>(mynumberAgent.client, 200, '/agent/v1/events', { body: { events: batch } });
    assert.deepEqual(resent, { accepted: 0, duplicates: 25 });
    const lgBatch = makeEvents(lgwanAgent, 5);
    await expectStatus(lgwanAgent.client, 200, '/agent/v1/events', { body: { events: lgBatch } });
    assert.equal(await fixture.server.services.store.events.count(), 30);

    const page = await auditor.expect<{ events: { seq: number; fileName: string; deviceSerial: string }[]; nextCursor?: number }>(200, `/api/v1/events?zoneId=mynumber&limit=10`);
    assert.equal(page.events.length, 10);
    assert.equal(page.events[0]!.fileName, '住民票-24.xlsx');
    const next = await auditor.expect<{ events: { seq: number }[] }>(200, `/api/v1/events?zoneId=mynumber&limit=10&before=${page.nextCursor}`);
    assert.ok(next.events.every((e) => e.seq < page.nextCursor!));
    const bySerial = await auditor.expect<{ events: unknown[] }>(200, `/api/v1/events?deviceSerial=SN3&agentId=${mynumberAgent.id}`);
    assert.equal(bySerial.events.length, 1);
    const byPrefix = await auditor.expect<{ events: unknown[] }>(200, `/api/v1/events?fileName=${encodeURIComponent('住民票-1')}`);
    assert.equal(byPrefix.events.length, 11 + 5 - 4); // 住民票-1 and -10..-19 from My Number; -1 from LGWAN's five

    // UDP delivery is asynchronous: wait for the messages (a generous bound, so a loaded CI machine does not fail this).
    // Besides the events, the server sends the logs' chain heads (at start and every few minutes).
    const exported = () => syslogMessages.filter((m) => / exitseal - export \[/.test(m));
    for (let i = 0; i < 750 && exported().length < 30; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(exported().length, 30);
    assert.match(exported()[0]!, /^<133>1 2025-04-01T09:00:00.000Z \S+ exitseal - export \[exitseal@32473 seq="1" /);
    assert.ok(syslogMessages.some((m) => / exitseal - chain-head \[exitseal@32473 log="audit" seq="\d+" head="[0-9a-f]{64}"\]/.test(m)), 'the audit chain head went to syslog at start');
  });

  it('verifies the chain, then reports a row edited directly in the SQLite file', async () => {
    const report = await auditor.expect<{ export: { ok: boolean; rowsChecked: number }; audit: { ok: boolean } }>(200, '/api/v1/log/verify');
    assert.equal(report.export.ok, true);
    assert.equal(report.export.rowsChecked, 30);
    assert.equal(report.audit.ok, true);
    await fixture.stop();

    const clean = await cli(['verify-log', '--data', dir.path]);
    assert.equal(clean.code, 0, clean.out);
    execFileSync('sqlite3', [join(dir.path, 'exitseal.db'), "UPDATE export_events SET action = 'blocked' WHERE seq = 7; DELETE FROM export_events WHERE seq = 20;"]);
    const broken = await cli(['verify-log', '--data', dir.path]);
    assert.equal(broken.code, 1);
    assert.match(broken.out, /export log: BROKEN/);
    assert.match(broken.out, /row 7: content does not match its chain hash \(edited\)/);
    assert.match(broken.out, /row 20: rows 20\.\.20 are missing \(deleted\)/);
    assert.match(broken.out, /audit log: OK/);
  });

  it('keeps everything across a restart', async () => {
    await fixture.start();
    const relogged = await fixture.login('auditor1');
    const agents = await relogged.expect<{ agents: { id: string; lastSeenAt: string | null; lastBundleRevision: number | null }[] }>(200, '/api/v1/agents');
    assert.equal(agents.agents.length, 2);
    assert.ok(agents.agents.every((a) => a.lastSeenAt !== null && a.lastBundleRevision !== null));
    // The enrolled agents' certificates still authenticate against the persisted CA.
    const bundle = await expectStatus<SignedBundle>(fixture.reconnect(lgwanAgent), 200, '/agent/v1/bundle');
    const payload = verifyBundle(bundle, VerifyKey.fromBase64(lgwanAgent.enrolment.bundleSigningKey));
    assert.equal(payload.sealTo.keyVersion, 2);
    assert.equal(await fixture.server.services.store.events.count(), 29);
    const zones = await relogged.expect<{ zones: unknown[] }>(200, '/api/v1/zones');
    assert.equal(zones.zones.length, 4);
  });
});

