// The agent's backlog report: counted from the real outbox, journal and quarantine folder, and sent with every
// policy poll (query) and event upload (body) in the shape the server's wire schemas accept.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { backlogFromQuery, EventBatchSchema, type AgentBacklog, type BundlePollQuery } from '@exitseal/core/wire';
import type { Logger } from '../src/logging/logger.js';
import type { HttpResponse, HttpsTransport } from '../src/server/https-transport.js';
import { PolicyServerApi } from '../src/server/policy-server-api.js';
import { AgentDatabase } from '../src/storage/database.js';
import { EventOutbox } from '../src/storage/event-outbox.js';
import { JobJournal } from '../src/storage/job-journal.js';
import { AgentBacklogMeter, countFiles } from '../src/upload/backlog.js';
import { EventUploader } from '../src/upload/event-uploader.js';
import { inTempDir } from './helpers.js';

const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

/** Stands in for the network only: records each request and answers as the server would. */
class RecordingTransport {
  readonly sent: Sent[] = [];
  readonly baseUrl = 'https://policy.example:8443';

  request(method: 'GET' | 'POST', path: string, options: { body?: unknown } = {}): Promise<HttpResponse> {
    this.sent.push({ method, path, body: options.body });
    if (path.startsWith('/agent/v1/events')) {
      const events = (options.body as { events: unknown[] }).events;
      return Promise.resolve({ status: 200, etag: undefined, json: { accepted: events.length, duplicates: 0 } });
    }
    return Promise.resolve({ status: 304, etag: undefined, json: undefined });
  }

  close(): void {}
}

function apiWith(transport: RecordingTransport): PolicyServerApi {
  return new PolicyServerApi(transport as unknown as HttpsTransport);
}

function logEvent(outbox: EventOutbox, i: number): void {
  outbox.append({ host: 'PC-1', osUser: 'tanaka', zoneId: 'lgwan', channel: 'removableMedia', fileName: `f-${i}.txt`, size: i, action: 'sealed' });
}

/** The backlog a poll's URL carries, read back the way the server reads it. */
function polledBacklog(path: string): AgentBacklog | undefined | null {
  const url = new URL(path, 'https://x');
  const query: BundlePollQuery = Object.fromEntries(url.searchParams);
  return backlogFromQuery(query);
}

describe('agent backlog report', () => {
  it('counts pending events, journal jobs and the files anywhere in the quarantine folder', async () => {
    await inTempDir(async (dir) => {
      const db = AgentDatabase.open(join(dir, 'agent.db'));
      try {
        const outbox = new EventOutbox(db);
        const journal = new JobJournal(db);
        const quarantine = join(dir, 'quarantine');
        let clock = 0;
        const meter = new AgentBacklogMeter(outbox, journal, quarantine, quiet, { quarantineRecountMs: 60_000, now: () => clock });
        assert.deepEqual(await meter.current(), { outboxEvents: 0, pendingJobs: 0, quarantinedFiles: 0 }, 'no quarantine folder yet: none');

        for (let i = 0; i < 3; i++) logEvent(outbox, i);
        outbox.markUploaded([1]);
        journal.record('vol-1', 'a/report.xlsx', 'removableMedia');
        journal.record('vol-1', 'b.docx', 'removableMedia');
        await mkdir(join(quarantine, 'vol-1', 'stamp-1', 'deep'), { recursive: true });
        await writeFile(join(quarantine, 'vol-1', 'stamp-1', 'deep', 'x.txt'), 'x');
        await writeFile(join(quarantine, 'vol-1', 'stamp-1', 'y.txt'), 'y');
        assert.equal(await countFiles(quarantine), 2, 'files only, not the folders holding them');

        clock += 60_000;
        assert.deepEqual(await meter.current(), { outboxEvents: 2, pendingJobs: 2, quarantinedFiles: 2 });
        await writeFile(join(quarantine, 'vol-1', 'stamp-1', 'z.txt'), 'z');
        clock += 1000;
        assert.equal((await meter.current()).quarantinedFiles, 2, 'the folder is walked at most once a minute');
        clock += 60_000;
        assert.equal((await meter.current()).quarantinedFiles, 3);
      } finally {
        db.close();
      }
    });
  });

  it('keeps the last quarantine count when the folder cannot be read, rather than failing the poll', async () => {
    await inTempDir(async (dir) => {
      const db = AgentDatabase.open(join(dir, 'agent.db'));
      try {
        const notAFolder = join(dir, 'quarantine');
        await writeFile(notAFolder, 'a file where the folder should be');
        const warnings: string[] = [];
        const meter = new AgentBacklogMeter(new EventOutbox(db), new JobJournal(db), notAFolder, { ...quiet, warn: (message) => warnings.push(message) });
        assert.equal((await meter.current()).quarantinedFiles, 0);
        assert.equal(warnings.length, 1);
      } finally {
        db.close();
      }
    });
  });

  it('sends the backlog with every poll and with every upload (what is left once that batch is stored)', async () => {
    await inTempDir(async (dir) => {
      const db = AgentDatabase.open(join(dir, 'agent.db'));
      const transport = new RecordingTransport();
      const api = apiWith(transport);
      const outbox = new EventOutbox(db);
      const journal = new JobJournal(db);
      const uploader = new EventUploader(outbox, api, { batchSize: 2, idleMs: 60_000, retryMaxMs: 1000 }, quiet);
      try {
        journal.record('vol-1', 'stuck.xlsx', 'removableMedia');
        await api.bundle(undefined);
        assert.equal(polledBacklog(transport.sent[0]?.path ?? ''), undefined, 'nothing is reported before a source is attached');

        api.reportBacklog(new AgentBacklogMeter(outbox, journal, join(dir, 'quarantine'), quiet));
        for (let i = 0; i < 5; i++) logEvent(outbox, i);
        await api.bundle('"etag-1"');
        assert.deepEqual(polledBacklog(transport.sent[1]?.path ?? ''), { outboxEvents: 5, pendingJobs: 1, quarantinedFiles: 0 });

        uploader.start();
        const deadline = Date.now() + 10_000;
        while (outbox.pendingCount() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        const uploads = transport.sent.filter((s) => s.path === '/agent/v1/events').map((s) => s.body);
        assert.equal(uploads.length, 3, 'five events in batches of two');
        for (const body of uploads) assert.ok(Value.Check(EventBatchSchema, body), 'the body passes the server\'s wire schema');
        assert.deepEqual(
          uploads.map((body) => (body as { backlog: AgentBacklog }).backlog),
          [
            { outboxEvents: 3, pendingJobs: 1, quarantinedFiles: 0 },
            { outboxEvents: 1, pendingJobs: 1, quarantinedFiles: 0 },
            { outboxEvents: 0, pendingJobs: 1, quarantinedFiles: 0 },
          ],
        );
      } finally {
        await uploader.stop();
        db.close();
      }
    });
  });
});
