// Deleting the LAST rows of a log: the chain alone cannot show it (what is left still links), the anchored
// head can. Tampering is done with the sqlite3 shell, behind the running server's back.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chainEvent, GENESIS_HASH, type ExportEvent } from '@exitseal/core/wire';
import { formatChainHeadMessage } from '../src/log/syslog.js';
import { ChainHeadPublisher } from '../src/services/chainHeads.js';
import { cli, customerZones, ServerFixture, tempDir, type EnrolledAgent } from './helpers/fixture.js';
import { expectStatus, type PersonClient } from './helpers/http.js';

interface Report {
  ok: boolean;
  rowsChecked: number;
  problems: { seq: number; problem: string }[];
}

describe('anchored chain heads: deleting rows at the end of a log is detected', () => {
  let dir: ReturnType<typeof tempDir>;
  let fixture: ServerFixture;
  let admin: PersonClient;
  let auditor: PersonClient;
  let agent: EnrolledAgent;
  let previous = GENESIS_HASH;
  const sqlite = (sql: string) => execFileSync('sqlite3', [join(dir.path, 'exitseal.db'), sql]);
  const verify = () => auditor.expect<{ export: Report; audit: Report }>(200, '/api/v1/log/verify');

  async function upload(count: number): Promise<void> {
    const events: ExportEvent[] = [];
    for (let i = 0; i < count; i++) {
      const event = chainEvent(previous, {
        eventId: randomUUID(),
        occurredAt: new Date(Date.parse('2025-04-01T08:00:00Z') + i * 1000).toISOString(),
        host: 'PC-LGWAN-009',
        osUser: 'tanaka',
        zoneId: 'lgwan',
        channel: 'removableMedia',
        fileName: `anchor-${i}.docx`,
        size: i,
        action: 'sealed',
      });
      events.push(event);
      previous = event.hash;
    }
    await expectStatus(agent.client, 200, '/agent/v1/events', { body: { events } });
  }

  before(async () => {
    dir = tempDir();
    fixture = await ServerFixture.create(dir.path);
    admin = await fixture.person('admin1', 'admin');
    await admin.expect(200, '/api/v1/zones', { method: 'PUT', body: { zones: customerZones() } });
    auditor = await fixture.person('auditor1', 'auditor');
    agent = await fixture.enrol(admin, 'lgwan', 'PC-LGWAN-009');
    await upload(10);
  });

  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  it('verifies an untouched log against its anchored heads', async () => {
    const report = await verify();
    assert.equal(report.export.ok, true, JSON.stringify(report.export.problems));
    assert.equal(report.export.rowsChecked, 10);
    assert.equal(report.audit.ok, true, JSON.stringify(report.audit.problems));
  });

  it('copies each log\'s anchored head out of the database (server log, syslog) with the row it ends at', async () => {
    const published: { log: string; seq: number; headHash: string; at: string }[] = [];
    const publisher = new ChainHeadPublisher(fixture.server.services.store, fixture.clock, [{ publish: (log, head, at) => published.push({ log, ...head, at }) }]);
    await publisher.publish();
    const exportHead = published.find((p) => p.log === 'export');
    const lastRow = (await fixture.server.services.store.events.scan(9, 10))[0];
    assert.equal(exportHead?.seq, 10);
    assert.equal(exportHead.headHash, lastRow?.chainHash);
    assert.ok(published.some((p) => p.log === 'audit' && p.seq > 0));
    assert.equal(
      formatChainHeadMessage('export', { seq: 10, headHash: 'ab12' }, '2025-04-01T09:00:00.000Z', 'exitseal', 'srv1'),
      '<133>1 2025-04-01T09:00:00.000Z srv1 exitseal - chain-head [exitseal@32473 log="export" seq="10" head="ab12"] \uFEFFexport log head at row 10',
    );
  });

  it('reports the last export row deleted with the sqlite3 shell, in the API and the CLI (exit 1)', async () => {
    sqlite('DELETE FROM export_events WHERE seq = (SELECT MAX(seq) FROM export_events);');
    const report = await verify();
    assert.equal(report.export.ok, false);
    assert.equal(report.export.rowsChecked, 9);
    assert.deepEqual(report.export.problems, [{ seq: 10, problem: 'the log ends at row 9 but its anchored head is row 10: rows 10..10 at the end were deleted' }]);
    const fromCli = await cli(['verify-log', '--data', dir.path]);
    assert.equal(fromCli.code, 1);
    assert.match(fromCli.out, /export log: BROKEN \(9 rows checked\)\n {2}row 10: the log ends at row 9/);
  });

  it('still reports it after new events were appended on top of the shortened log', async () => {
    await upload(3);
    const report = await verify();
    assert.equal(report.export.ok, false);
    assert.equal(report.export.rowsChecked, 12);
    assert.equal(report.export.problems.length, 1, JSON.stringify(report.export.problems));
    assert.match(report.export.problems[0]?.problem ?? '', /^row 10 was appended \(.+\) when the log ended at row 9, not at its anchored head, row 10: rows at the end had been deleted$/);
  });

  it('reports a deleted or edited anchor, even once later appends have rewritten it', async () => {
    sqlite("UPDATE log_anchors SET breaks = '[]' WHERE log = 'export';");
    const edited = await verify();
    assert.deepEqual(edited.export.problems.map((p) => p.problem), ['the anchor of the chain head does not match its MAC (edited)']);
    await upload(1);
    const afterAppend = await verify();
    assert.ok(afterAppend.export.problems.some((p) => /and its anchor did not match its MAC \(edited\)$/.test(p.problem)), JSON.stringify(afterAppend.export.problems));

    sqlite("DELETE FROM log_anchors WHERE log = 'export';");
    const missing = await verify();
    assert.deepEqual(missing.export.problems.map((p) => p.problem), ['the chain head has no anchor (the anchor row was deleted): deleted rows at the end would not show']);
    await upload(1);
    const recreated = await verify();
    assert.ok(recreated.export.problems.some((p) => /and had no anchor \(deleted, or a log from before anchoring\)$/.test(p.problem)), JSON.stringify(recreated.export.problems));
  });

  it('reports the last audit row deleted, also after later admin actions were audited', async () => {
    sqlite('DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log);');
    const report = await verify();
    assert.equal(report.audit.ok, false);
    assert.match(report.audit.problems[0]?.problem ?? '', /at the end were deleted$/);
    await admin.expect(201, '/api/v1/enrolment-tokens', { body: { validHours: 1 } });
    const later = await verify();
    assert.equal(later.audit.ok, false);
    assert.ok(later.audit.problems.some((p) => /rows at the end had been deleted$/.test(p.problem)), JSON.stringify(later.audit.problems));
  });
});
