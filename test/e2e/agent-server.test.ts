// The agent against a REAL policy server process: enrolment with a pinned CA, the signed bundle, zone
// detection, sealing to the zone key from the bundle, and the export log arriving at the server once.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { AgentDatabase, enrolAgent, EventOutbox, EventUploader, apiFor, loadEnrolment, type Logger } from '@exitseal/agent';
import { Decrypter } from 'age-encryption';
import { createSealer, X25519Identity, X25519Recipient } from '@exitseal/core';
import { verifyBundle } from '@exitseal/core/policy';
import { AgentProcess, readEvents } from './support/agent-process.js';
import { agentCli, bundleSecrets, writeServerAgentConfig as writeConfig } from './support/enrolled-agent.js';
import { LocalApiClient } from './support/local-api-client.js';
import { PolicyServerProcess, type Person } from './support/policy-server-process.js';
import { ageDecryptedSha, sha256, startsSealed, waitUntil } from './support/stick-files.js';
import { customerZonesWithThisPcIn } from './support/zones.js';

const run = promisify(execFile);

const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

describe('agent with a real policy server', () => {
  let workspace: { dir: string };
  let server: PolicyServerProcess;
  let admin: Person;
  let auditor: Person;
  let caFingerprint: string;

  before(async () => {
    workspace = { dir: await mkdtemp(join(tmpdir(), 'exitseal-e2e-server-')) };
    server = await PolicyServerProcess.create(join(workspace.dir, 'server'));
    await server.start();
    caFingerprint = (await server.certificateAuthority()).fingerprint;
    admin = await server.person('admin1');
    auditor = await server.person('auditor1');
    await admin.call('PUT', '/api/v1/zones', { zones: customerZonesWithThisPcIn('lgwan') });
  });

  after(async () => {
    await server?.stop();
    await rm(workspace.dir, { recursive: true, force: true });
  });

  test('enrol pins the CA by fingerprint: a wrong pin sends nothing; the right one stores the identity privately and fetches the policy', async () => {
    const dir = join(workspace.dir, 'enrol');
    await mkdir(dir);
    const configPath = await writeConfig(dir);
    const token = await server.enrolmentToken('lgwan');
    const wrong = await agentCli(['enrol', '--config', configPath, '--server', server.url, `--token=${token}`, '--ca-fingerprint', 'ab'.repeat(32)]);
    assert.equal(wrong.code, 1, wrong.err);
    assert.match(wrong.err, /SERVER_NOT_TRUSTED/);
    assert.equal(await loadEnrolment(join(dir, 'data')), undefined, 'nothing stored');

    const missing = await agentCli(['enrol', '--config', configPath, '--server', server.url]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--token TOKEN is required/);
    assert.match(missing.err, /--ca-fingerprint/);

    const enrolled = await agentCli(['enrol', '--config', configPath, '--server', server.url, `--token=${token}`, '--ca-fingerprint', caFingerprint]);
    assert.equal(enrolled.code, 0, enrolled.err);
    assert.match(enrolled.out, /enrolled as agent .* in zone lgwan .*policy fetched/);
    const dataDir = join(dir, 'data');
    assert.equal((await stat(join(dataDir, 'enrolment'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(dataDir, 'enrolment', 'client-key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, 'policy', 'bundle.json'))).mode & 0o777, 0o600, 'the cached bundle holds zone keys');
    assert.deepEqual([...(await bundleSecrets(dataDir)).keys()].sort(), ['internet', 'lgwan']);

    const again = await agentCli(['enrol', '--config', configPath, '--server', server.url, `--token=${token}`, '--ca-fingerprint', caFingerprint]);
    assert.equal(again.code, 1);
    assert.match(again.err, /ALREADY_ENROLLED/);
    const otherDir = join(workspace.dir, 'enrol-reused');
    await mkdir(otherDir);
    const reused = await agentCli(['enrol', '--config', await writeConfig(otherDir), '--server', server.url, `--token=${token}`, '--ca-fingerprint', caFingerprint]);
    assert.equal(reused.code, 1);
    assert.match(reused.err, /ENROLMENT_TOKEN_USED/);
  });

  test('the enrolled agent detects its zone, seals to the zone key of the bundle, and the server gets one event per file with device and hash', async () => {
    const dir = join(workspace.dir, 'seal');
    const stick = join(dir, 'stick');
    await mkdir(stick, { recursive: true });
    await writeFile(join(stick, 'already-there.txt'), 'brought from elsewhere');
    const configPath = await writeConfig(dir, { media: { pollIntervalMs: 100, settleMs: 100, declaredVolumes: [{ path: stick, kind: 'directory', label: 'KIOXIA', serial: 'SN-E2E-1' }] } });
    const enrolled = await agentCli(['enrol', '--config', configPath, '--server', server.url, `--token=${await server.enrolmentToken('lgwan')}`, '--ca-fingerprint', caFingerprint]);
    assert.equal(enrolled.code, 0, enrolled.err);
    const dataDir = join(dir, 'data');
    const agentId = (await loadEnrolment(dataDir))?.agentId ?? '';
    const identityFile = join(dir, 'lgwan.key');
    await writeFile(identityFile, `${(await bundleSecrets(dataDir)).get('lgwan') ?? ''}\n`, { mode: 0o600 });

    const agent = await AgentProcess.start(configPath);
    try {
      const inForce = await agent.waitForLog('the zone policy', (line) => line.message === 'policy in force');
      assert.equal(inForce.fields?.zone, 'lgwan');
      assert.equal(inForce.fields?.basis, 'network-match');
      await agent.waitForLog('the stick to be watched', (line) => line.message === 'watching' && line.fields?.root === stick);
      const files = new Map<string, string>();
      for (const name of ['report.xlsx', 'memo.txt', 'photo.jpg']) {
        const data = Buffer.from(`${name} contents ${'x'.repeat(1000)}`);
        await writeFile(join(stick, name), data);
        files.set(name, sha256(data));
      }
      await waitUntil('three seals', () => readEvents(configPath).length >= 3, 60_000, agent);
      for (const [name, hash] of files) {
        assert.ok(await startsSealed(join(stick, name)), `${name} is sealed`);
        assert.equal(await ageDecryptedSha(join(stick, name), identityFile), hash, `the age CLI opens ${name} with the LGWAN identity from the bundle`);
      }
      assert.equal(await readFile(join(stick, 'already-there.txt'), 'utf8'), 'brought from elsewhere');

      let stored: { events: { fileName: string; sha256: string; deviceSerial: string; deviceLabel: string; zoneId: string; action: string; agentChainOk: boolean }[] } = { events: [] };
      await waitUntil('the events at the server', async () => {
        stored = await auditor.call('GET', `/api/v1/events?agentId=${agentId}&limit=100`);
        return stored.events.length >= 3;
      }, 30_000, agent);
      assert.equal(stored.events.length, 3, 'one event per file');
      for (const event of stored.events) {
        assert.equal(event.action, 'sealed');
        assert.equal(event.sha256, files.get(event.fileName));
        assert.equal(event.deviceSerial, 'SN-E2E-1');
        assert.equal(event.deviceLabel, 'KIOXIA');
        assert.equal(event.zoneId, 'lgwan');
        assert.equal(event.agentChainOk, true);
      }

      // Its uploads and polls carry its backlog: once the three events are stored and sealed, nothing is left.
      type Listed = { id: string; backlog: { outboxEvents: number; pendingJobs: number; quarantinedFiles: number; reportedAt: string } | null; backlogStale: boolean };
      let listed: Listed | undefined;
      await waitUntil('the backlog at the server', async () => {
        listed = (await auditor.call<{ agents: Listed[] }>('GET', '/api/v1/console/agents')).agents.find((a) => a.id === agentId);
        return listed?.backlog?.outboxEvents === 0 && listed.backlog.pendingJobs === 0;
      }, 30_000, agent);
      assert.equal(listed?.backlog?.quarantinedFiles, 0);
      assert.equal(listed?.backlogStale, false);
    } finally {
      await agent.kill('SIGTERM');
    }
  });

  test('imports open what this zone may open and list the rest; a release token lets exactly that file through plaintext (through the local API)', async () => {
    const dir = join(workspace.dir, 'import');
    const stick = join(dir, 'stick');
    const inbox = join(dir, 'Documents');
    await mkdir(stick, { recursive: true });
    await mkdir(inbox, { recursive: true });
    const configPath = await writeConfig(dir, { inboundFolders: [inbox], media: { pollIntervalMs: 100, settleMs: 100, declaredVolumes: [{ path: stick, kind: 'directory', serial: 'SN-E2E-2' }] } });
    const enrolled = await agentCli(['enrol', '--config', configPath, '--server', server.url, `--token=${await server.enrolmentToken('lgwan')}`, '--ca-fingerprint', caFingerprint]);
    assert.equal(enrolled.code, 0, enrolled.err);
    const agentId = (await loadEnrolment(join(dir, 'data')))?.agentId ?? '';

    // Files sealed elsewhere: one in the Internet zone (LGWAN may open it), one in My Number (it may not).
    const internetRecipient = X25519Identity.parse((await bundleSecrets(join(dir, 'data'))).get('internet') ?? '').recipient;
    const mynumberDir = join(workspace.dir, 'mynumber-pc');
    const mynumber = await enrolAgent({ dataDir: mynumberDir, serverUrl: server.url, token: await server.enrolmentToken('mynumber'), caPem: (await server.certificateAuthority()).pem, hostname: 'PC-MN', osName: 'Linux', agentVersion: '0.1.0' });
    const mynumberApi = apiFor(mynumber);
    const answer = await mynumberApi.bundle(undefined);
    mynumberApi.close();
    assert.ok(answer.changed);
    const mynumberRecipient = X25519Recipient.parse(verifyBundle(answer.signedBundle, mynumber.verifyKey).sealTo.recipient);
    const sealTo = (recipient: X25519Recipient, zoneId: string, text: string) => {
      const sealer = createSealer({ recipients: [recipient], meta: { zoneId, keyVersion: 1 } });
      return Buffer.concat([sealer.header, ...sealer.encryptor.push(Buffer.from(text)), ...sealer.encryptor.finish()]);
    };
    const source = join(dir, 'from-stick');
    await mkdir(source);
    await writeFile(join(source, 'internet-memo.docx'), sealTo(internetRecipient, 'internet', 'internet memo'));
    await writeFile(join(source, 'resident-records.xlsx'), sealTo(mynumberRecipient, 'mynumber', 'resident records'));
    // Copied in while the agent was not running: opened when it starts.
    await writeFile(join(inbox, 'copied-while-stopped.pptx'), sealTo(internetRecipient, 'internet', 'copied while the agent was stopped'));

    const agent = await AgentProcess.start(configPath);
    const api = await LocalApiClient.connect(join(dir, 'api', String(process.getuid?.() ?? 0), 'agent.sock'));
    try {
      await api.call('subscribe');
      const status = await api.call<{ state: string; zone: string; policySource: string }>('status');
      assert.deepEqual([status.state, status.zone, status.policySource], ['protected', 'lgwan', 'server']);
      await run('cp', [join(source, 'internet-memo.docx'), join(source, 'resident-records.xlsx'), inbox]);
      await waitUntil('the import to be handled', async () => (await readFile(join(inbox, 'internet-memo.docx'), 'utf8')) === 'internet memo' && api.notices.some((notice) => notice.kind === 'cannot-open'), 30_000, agent);
      assert.ok(await startsSealed(join(inbox, 'resident-records.xlsx')), 'a My Number file stays sealed on an LGWAN PC');
      await waitUntil('the file that was there before the start to be opened', async () => (await readFile(join(inbox, 'copied-while-stopped.pptx'), 'utf8')) === 'copied while the agent was stopped', 30_000, agent);
      const locked = await api.call<{ path: string; zoneId: string }[]>('lockedFiles');
      assert.deepEqual(locked.map((entry) => [entry.path, entry.zoneId]), [[join(inbox, 'resident-records.xlsx'), 'mynumber']]);
      const decrypt = await api.call<{ id: string; status: string; kind: string }>('submitDecrypt', { path: join(inbox, 'resident-records.xlsx'), reason: 'needed for the tax office', purpose: 'this-pc' });
      assert.deepEqual([decrypt.kind, decrypt.status], ['decrypt', 'pending']);

      // A plaintext release: asked for through the local API, approved at the server, then copied as usual.
      const transfer = Buffer.from('bank transfer file for the partner');
      await writeFile(join(source, 'transfer.csv'), transfer);
      await writeFile(join(source, 'other.csv'), 'not released');
      await assert.rejects(api.call('submitRelease', { path: 'relative.csv', reason: 'x', destination: 'bank' }), (error: Error & { code?: string }) => error.code === 'PATH_INVALID');
      await assert.rejects(api.call('submitRelease', { path: join(source, 'transfer.csv') }), (error: Error & { code?: string }) => error.code === 'PARAMS_INVALID');
      const release = await api.call<{ id: string }>('submitRelease', { path: join(source, 'transfer.csv'), reason: 'payment run', destination: 'partner bank' });
      const approver = await server.person('approver1');
      await approver.call('POST', `/api/v1/requests/${release.id}/decision`, { decision: 'approve', reason: 'ok' });
      await waitUntil('the release token', async () => (await api.call<{ id: string; status: string }[]>('myRequests')).some((request) => request.id === release.id && request.status === 'approved'), 30_000, agent);
      await run('cp', [join(source, 'transfer.csv'), join(source, 'other.csv'), stick]);
      await waitUntil('both files handled', () => readEvents(configPath).filter((event) => event.mediaPath === 'transfer.csv' || event.mediaPath === 'other.csv').length >= 2, 30_000, agent);
      assert.deepEqual(await readFile(join(stick, 'transfer.csv')), transfer, 'the released file leaves in plaintext');
      assert.ok(await startsSealed(join(stick, 'other.csv')), 'any other file is sealed');

      let stored: { events: { fileName: string; action: string; sha256: string; reason: string }[] } = { events: [] };
      await waitUntil('the events at the server', async () => {
        stored = await auditor.call('GET', `/api/v1/events?agentId=${agentId}&limit=100`);
        return stored.events.length >= 4;
      }, 30_000, agent);
      const byFile = new Map(stored.events.map((event) => [event.fileName, event]));
      assert.equal(byFile.get('internet-memo.docx')?.action, 'opened-on-import');
      assert.equal(byFile.get('transfer.csv')?.action, 'released-plaintext');
      assert.equal(byFile.get('transfer.csv')?.sha256, sha256(transfer));
      assert.match(byFile.get('transfer.csv')?.reason ?? '', new RegExp(release.id));
      assert.equal(byFile.get('other.csv')?.action, 'sealed');
      assert.equal(byFile.get('copied-while-stopped.pptx')?.action, 'opened-on-import');
      assert.equal(stored.events.length, 4);
    } finally {
      api.close();
      await agent.kill('SIGTERM');
    }
  });

  test('approved decrypts: "this PC" opens the sealed file in place; an outside recipient gets a passphrase copy beside it that typage opens, the passphrase shown only to the requester', async () => {
    const dir = join(workspace.dir, 'decrypts');
    const inbox = join(dir, 'Documents');
    await mkdir(inbox, { recursive: true });
    const configPath = await writeConfig(dir, { inboundFolders: [inbox] });
    const enrolled = await agentCli(['enrol', '--config', configPath, '--server', server.url, `--token=${await server.enrolmentToken('lgwan')}`, '--ca-fingerprint', caFingerprint]);
    assert.equal(enrolled.code, 0, enrolled.err);
    const agentId = (await loadEnrolment(join(dir, 'data')))?.agentId ?? '';

    const mynumber = await enrolAgent({ dataDir: join(dir, 'mynumber-pc'), serverUrl: server.url, token: await server.enrolmentToken('mynumber'), caPem: (await server.certificateAuthority()).pem, hostname: 'PC-MN2', osName: 'Linux', agentVersion: '0.1.0' });
    const mynumberApi = apiFor(mynumber);
    const answer = await mynumberApi.bundle(undefined);
    mynumberApi.close();
    assert.ok(answer.changed);
    const mynumberRecipient = X25519Recipient.parse(verifyBundle(answer.signedBundle, mynumber.verifyKey).sealTo.recipient);
    const sealed = (text: string) => {
      const sealer = createSealer({ recipients: [mynumberRecipient], meta: { zoneId: 'mynumber', keyVersion: 1 } });
      return Buffer.concat([sealer.header, ...sealer.encryptor.push(Buffer.from(text)), ...sealer.encryptor.finish()]);
    };
    await writeFile(join(inbox, 'tax-list.xlsx'), sealed('tax list for this PC'));
    const forPartner = sealed('records for the partner office');
    await writeFile(join(inbox, 'partner.docx'), forPartner);

    const agent = await AgentProcess.start(configPath);
    const api = await LocalApiClient.connect(join(dir, 'api', String(process.getuid?.() ?? 0), 'agent.sock'));
    try {
      await waitUntil('both files listed as locked', async () => (await api.call<unknown[]>('lockedFiles')).length === 2, 30_000, agent);
      const here = await api.call<{ id: string }>('submitDecrypt', { path: join(inbox, 'tax-list.xlsx'), reason: 'tax office', purpose: 'this-pc' });
      const outside = await api.call<{ id: string }>('submitDecrypt', { path: join(inbox, 'partner.docx'), reason: 'partner office needs it', purpose: 'outside-recipient' });
      const approver = await server.person('approver1');
      for (const id of [here.id, outside.id]) await approver.call('POST', `/api/v1/requests/${id}/decision`, { decision: 'approve', reason: 'ok' });

      await waitUntil('the this-PC decrypt to open the file', async () => (await readFile(join(inbox, 'tax-list.xlsx'), 'utf8')) === 'tax list for this PC', 30_000, agent);
      type Mine = { id: string; status: string; recipientCopy: { path: string; passphrase: string } | null };
      let copy: Mine['recipientCopy'] = null;
      await waitUntil('the recipient copy', async () => (copy = (await api.call<Mine[]>('myRequests')).find((request) => request.id === outside.id)?.recipientCopy ?? null) !== null, 60_000, agent);
      const written = copy as unknown as { path: string; passphrase: string };
      assert.equal(written.path, join(inbox, 'partner.docx.age'));
      assert.deepEqual(await readFile(join(inbox, 'partner.docx')), forPartner, 'the sealed original is kept as it was');
      const decrypter = new Decrypter();
      decrypter.addPassphrase(written.passphrase);
      assert.equal(Buffer.from(await decrypter.decrypt(await readFile(written.path))).toString(), 'records for the partner office', 'an independent age implementation opens the copy with the passphrase');
      assert.ok(!agent.lines.some((line) => JSON.stringify(line).includes(written.passphrase)), 'the passphrase never reaches the log');
      assert.deepEqual((await api.call<{ path: string }[]>('lockedFiles')).map((entry) => entry.path), [join(inbox, 'partner.docx')], 'the opened file is no longer listed');

      let stored: { events: { fileName: string; action: string; reason: string }[] } = { events: [] };
      await waitUntil('the events at the server', async () => {
        stored = await auditor.call('GET', `/api/v1/events?agentId=${agentId}&limit=100`);
        return stored.events.length >= 2;
      }, 30_000, agent);
      assert.deepEqual(stored.events.map((event) => [event.fileName, event.action]).sort(), [['partner.docx', 'decrypt-approved'], ['tax-list.xlsx', 'decrypt-approved']]);
    } finally {
      api.close();
      await agent.kill('SIGTERM');
    }
  });

  test('100,000 events queued while the server is down all arrive exactly once when it returns, and a resend is counted as duplicates', async () => {
    const dir = join(workspace.dir, 'outage');
    await mkdir(dir);
    const dataDir = join(dir, 'data');
    const enrolment = await enrolAgent({
      dataDir,
      serverUrl: server.url,
      token: await server.enrolmentToken('lgwan'),
      caPem: (await server.certificateAuthority()).pem,
      hostname: 'PC-OUTAGE',
      osName: 'Linux',
      agentVersion: '0.1.0',
    });
    const before = await server.storedEventCount();
    await server.stop();

    const db = AgentDatabase.open(join(dataDir, 'agent.db'));
    const api = apiFor(enrolment, 5000);
    const uploader = new EventUploader(new EventOutbox(db), api, { batchSize: 1000, idleMs: 50, retryMaxMs: 500 }, quiet);
    try {
      const outbox = new EventOutbox(db);
      const total = 100_000;
      db.transaction(() => {
        for (let i = 0; i < total; i++) {
          outbox.append({ host: 'PC-OUTAGE', osUser: 'tanaka', zoneId: 'lgwan', channel: 'removableMedia', device: { serial: 'SN-OUT' }, fileName: `file-${i}.txt`, mediaPath: `dir/file-${i}.txt`, size: i, sha256: sha256(Buffer.from(String(i))), action: 'sealed' });
        }
      });
      uploader.start();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(outbox.pendingCount(), total, 'nothing is lost or dropped while the server is down');
      assert.equal(uploader.totals.batches, 0);

      await server.start();
      await waitUntil('the outbox to drain', () => outbox.pendingCount() === 0, 600_000);
      assert.equal(uploader.totals.uploaded, total);
      assert.equal(uploader.totals.duplicates, 0);
      assert.equal(await server.storedEventCount(), before + total, 'every event arrived once');

      // The agent died after the server stored the last batch but before it marked it sent: it sends it again.
      await run('sqlite3', [join(dataDir, 'agent.db'), 'UPDATE events SET uploaded = 0 WHERE seq > 99000;']);
      uploader.wake();
      await waitUntil('the resend', () => outbox.pendingCount() === 0, 60_000);
      assert.equal(uploader.totals.duplicates, 1000);
      assert.equal(await server.storedEventCount(), before + total, 'the resent events are not stored twice');
    } finally {
      await uploader.stop();
      api.close();
      db.close();
    }
  });
});
