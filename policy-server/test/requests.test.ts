import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSealer, parseHeader, PassphraseIdentity, PayloadDecryptor, openStream, verifyHeaderMac, X25519Recipient } from '@exitseal/core';
import { VerifyKey, verifyBundle, verifyReleaseToken } from '@exitseal/core/policy';
import type { RequestOutcome } from '@exitseal/core/wire';
import { customerZones, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { expectStatus, type PersonClient } from './helpers/http.js';

function sealFile(recipient: string, zoneId: string, keyVersion: number, plaintext: Buffer): Buffer {
  const sealer = createSealer({ recipients: [X25519Recipient.parse(recipient)], meta: { zoneId, keyVersion } });
  return Buffer.concat([sealer.header, ...sealer.encryptor.push(plaintext), ...sealer.encryptor.finish()]);
}

function decryptWithFileKey(file: Buffer, fileKey: Buffer): Buffer {
  const header = parseHeader(file);
  assert.ok(verifyHeaderMac(header, fileKey), 'the file key authenticates this file header');
  const decryptor = new PayloadDecryptor(fileKey);
  return Buffer.concat([...decryptor.push(file.subarray(header.length)), decryptor.finish()]);
}

describe('decrypt and release requests through two-step approval', () => {
  const dir = tempDir();
  let fixture: ServerFixture;
  let admin: PersonClient;
  let approver: PersonClient;
  let auditor: PersonClient;
  let staff: PersonClient;
  let lgwanAgent: EnrolledAgent;
  let mynumberRecipient: string;
  const plaintext = Buffer.from('住民税 課税台帳 2025\n'.repeat(5000));
  let sealed: Buffer;
  let otherSealed: Buffer;

  before(async () => {
    fixture = await ServerFixture.create(dir.path);
    admin = await fixture.person('admin1', 'admin');
    approver = await fixture.person('approver1', 'approver');
    auditor = await fixture.person('auditor1', 'auditor');
    staff = await fixture.person('staff1', 'staff');
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones: customerZones() } });
    const mynumberAgent = await fixture.enrol(admin, 'mynumber', 'PC-MN-01');
    lgwanAgent = await fixture.enrol(admin, 'lgwan', 'PC-LG-01');
    const mnBundle = verifyBundle(await expectStatus(mynumberAgent.client, 200, '/agent/v1/bundle'), VerifyKey.fromBase64(mynumberAgent.enrolment.bundleSigningKey));
    mynumberRecipient = mnBundle.sealTo.recipient;
    sealed = sealFile(mynumberRecipient, 'mynumber', 1, plaintext);
    otherSealed = sealFile(mynumberRecipient, 'mynumber', 1, Buffer.from('another file'));
  });

  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  async function requestDecrypt(purpose: 'this-pc' | 'outside-recipient'): Promise<string> {
    const header = sealed.subarray(0, parseHeader(sealed).length);
    const created = await expectStatus<{ id: string; status: string }>(lgwanAgent.client, 201, '/agent/v1/requests/decrypt', {
      body: { header: header.toString('base64'), fileName: '課税台帳.xlsx', reason: 'needed for the LGWAN report', purpose, osUser: 'tanaka' },
    });
    assert.equal(created.status, 'pending');
    return created.id;
  }

  it('a decrypt request for this PC: wrong roles are refused, approver then admin approve, the agent gets a key for exactly that file', async () => {
    const id = await requestDecrypt('this-pc');
    const queue = await approver.expect<{ requests: { id: string; steps: string[]; detail: Record<string, unknown> }[] }>(200, '/api/v1/requests?status=pending');
    const queued = queue.requests.find((r) => r.id === id);
    assert.deepEqual(queued?.steps, ['approver', 'admin']);
    assert.equal(queued?.detail.header, undefined, 'approvers see the request, not the header bytes');

    const decide = (person: PersonClient, status: number, decision = 'approve') => person.expect<{ code?: string; status?: string }>(status, `/api/v1/requests/${id}/decision`, { body: { decision, reason: 'ok per form 12' } });
    assert.equal((await decide(admin, 403)).code, 'ROLE_FORBIDDEN', 'step 1 is the approver\'s');
    assert.equal((await decide(staff, 403)).code, 'ROLE_FORBIDDEN');
    assert.equal((await decide(auditor, 403)).code, 'ROLE_FORBIDDEN');
    assert.equal((await decide(approver, 200)).status, 'pending');
    assert.equal((await decide(approver, 403)).code, 'ROLE_FORBIDDEN', 'step 2 is the admin\'s');

    const pending = await expectStatus<RequestOutcome>(lgwanAgent.client, 200, `/agent/v1/requests/${id}`);
    assert.equal(pending.status, 'pending');
    assert.equal(pending.fileKey, undefined);

    assert.equal((await decide(admin, 200)).status, 'approved');
    assert.equal((await decide(admin, 409)).code, 'REQUEST_DECIDED');

    const outcome = await expectStatus<RequestOutcome>(lgwanAgent.client, 200, `/agent/v1/requests/${id}`);
    assert.equal(outcome.status, 'approved');
    const fileKey = Buffer.from(outcome.fileKey ?? '', 'base64');
    assert.equal(fileKey.length, 16);
    assert.deepEqual(decryptWithFileKey(sealed, fileKey), plaintext);
    assert.equal(verifyHeaderMac(parseHeader(otherSealed), fileKey), false, 'the key opens no other file');

    const audit = await auditor.expect<{ entries: { action: string; target: string }[] }>(200, '/api/v1/audit?limit=50');
    assert.deepEqual(audit.entries.filter((e) => e.target === id).map((e) => e.action).reverse(), ['request.create', 'request.approve', 'request.approve']);
  });

  it('only the requesting agent can fetch the outcome', async () => {
    const id = await requestDecrypt('this-pc');
    const other = await fixture.enrol(admin, 'internet', 'PC-NET-01');
    const response = await other.client.call(`/agent/v1/requests/${id}`);
    assert.equal(response.status, 404);
  });

  it('a decrypt request for an outside recipient yields a passphrase header that opens the unchanged payload', async () => {
    const id = await requestDecrypt('outside-recipient');
    await approver.expect(200, `/api/v1/requests/${id}/decision`, { body: { decision: 'approve', reason: 'partner needs it' } });
    await admin.expect(200, `/api/v1/requests/${id}/decision`, { body: { decision: 'approve', reason: 'confirmed' } });
    const outcome = await expectStatus<RequestOutcome>(lgwanAgent.client, 200, `/agent/v1/requests/${id}`);
    assert.equal(outcome.fileKey, undefined);
    const recipientCopy = Buffer.concat([Buffer.from(outcome.recipientHeader ?? '', 'base64'), sealed.subarray(parseHeader(sealed).length)]);
    const opened = await openStream([recipientCopy], [new PassphraseIdentity(outcome.passphrase ?? '')]);
    const parts: Buffer[] = [];
    for await (const part of opened.plaintext) parts.push(part);
    assert.deepEqual(Buffer.concat(parts), plaintext);
  });

  it('a release request: approved in two steps, the agent gets a token bound to the file hash, requester and expiry', async () => {
    const sha256 = 'e3'.repeat(32);
    const created = await expectStatus<{ id: string }>(lgwanAgent.client, 201, '/agent/v1/requests/release', {
      body: { fileName: 'furikomi.csv', size: 2048, sha256, reason: 'bank transfer file', destination: 'Bank partner', osUser: 'tanaka' },
    });
    await approver.expect(200, `/api/v1/requests/${created.id}/decision`, { body: { decision: 'approve', reason: 'checked' } });
    await admin.expect(200, `/api/v1/requests/${created.id}/decision`, { body: { decision: 'approve', reason: 'checked' } });
    const outcome = await expectStatus<RequestOutcome>(lgwanAgent.client, 200, `/agent/v1/requests/${created.id}`);
    const key = VerifyKey.fromBase64(lgwanAgent.enrolment.bundleSigningKey);
    const now = fixture.clock.now();
    const payload = verifyReleaseToken(outcome.releaseToken ?? '', key, { agentId: lgwanAgent.id, osUser: 'tanaka', sha256, now });
    assert.equal(payload.fileName, 'furikomi.csv');
    assert.equal(payload.expiresAt, outcome.releaseExpiresAt);
    assert.throws(() => verifyReleaseToken(outcome.releaseToken ?? '', key, { agentId: lgwanAgent.id, osUser: 'sato', sha256, now }));
    assert.throws(() => verifyReleaseToken(outcome.releaseToken ?? '', key, { agentId: lgwanAgent.id, osUser: 'tanaka', sha256, now: new Date(now.getTime() + 25 * 3600_000) }));
  });

  it('a denial at the first step ends the request with no outcome', async () => {
    const created = await expectStatus<{ id: string }>(lgwanAgent.client, 201, '/agent/v1/requests/release', {
      body: { fileName: 'all-residents.csv', size: 10, sha256: 'a1'.repeat(32), reason: 'want it', destination: 'USB', osUser: 'tanaka' },
    });
    await approver.expect(200, `/api/v1/requests/${created.id}/decision`, { body: { decision: 'deny', reason: 'no business need' } });
    const outcome = await expectStatus<RequestOutcome>(lgwanAgent.client, 200, `/agent/v1/requests/${created.id}`);
    assert.equal(outcome.status, 'denied');
    assert.equal(outcome.decisionReason, 'no business need');
    assert.equal(outcome.releaseToken, undefined);
    assert.equal((await admin.expect<{ code: string }>(409, `/api/v1/requests/${created.id}/decision`, { body: { decision: 'approve', reason: 'x' } })).code, 'REQUEST_DECIDED');
  });

  it('refuses a decrypt request whose header was altered or is not an ExitSeal file', async () => {
    const header = Buffer.from(sealed.subarray(0, parseHeader(sealed).length));
    // Flip one character of the header MAC: still a well-formed header, but it no longer authenticates.
    const tampered = Buffer.from(header);
    const macLine = tampered.lastIndexOf('--- ');
    tampered[macLine + 5] = tampered[macLine + 5] === 0x41 ? 0x42 : 0x41;
    const before = (await admin.expect<{ requests: unknown[] }>(200, '/api/v1/requests?limit=1000')).requests.length;
    const altered = await lgwanAgent.client.call('/agent/v1/requests/decrypt', { body: { header: tampered.toString('base64'), fileName: 'x', reason: 'x', purpose: 'this-pc', osUser: 'tanaka' } });
    assert.equal(altered.status, 400, altered.text);
    assert.equal((altered.json as { code: string }).code, 'HEADER_MAC_INVALID');
    const notAge = await lgwanAgent.client.call('/agent/v1/requests/decrypt', { body: { header: Buffer.from('hello').toString('base64'), fileName: 'x', reason: 'x', purpose: 'this-pc', osUser: 'tanaka' } });
    assert.equal(notAge.status, 400);
    assert.equal((await admin.expect<{ requests: unknown[] }>(200, '/api/v1/requests?limit=1000')).requests.length, before);
  });
});
