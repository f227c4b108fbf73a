import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from '../../errors.js';
import { noStore, type RequestAuthenticator } from '../auth.js';
import type { AuditService } from '../../services/audit.js';
import { CSV_COLUMNS, csvLine, type ConsoleService } from '../../services/console.js';
import type { RequestService } from '../../services/requests.js';
import type { EventFilter } from '../../storage/store.js';
import { EventFilterFields } from './event-filters.js';

export interface ConsoleRouteServices {
  readonly auth: RequestAuthenticator;
  readonly console: ConsoleService;
  readonly audit: AuditService;
  readonly requests: RequestService;
}

/** The same filters as GET /api/v1/events, without paging: the CSV holds every matching row. */
const CsvQuery = Type.Object(EventFilterFields, { additionalProperties: false });
type CsvQuery = Static<typeof CsvQuery>;
const SeqParams = Type.Object({ seq: Type.String({ pattern: '^[0-9]{1,15}$' }) }, { additionalProperties: false });

function isoOrThrow(text: string | undefined, name: string): string | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw badRequest('TIME_INVALID', `${name} is not a real date`);
  return new Date(ms).toISOString();
}

function filterOf(q: CsvQuery): Omit<EventFilter, 'limit' | 'beforeSeq'> {
  return {
    agentId: q.agentId,
    zoneId: q.zoneId,
    channel: q.channel,
    action: q.action,
    osUser: q.osUser,
    host: q.host,
    sha256: q.sha256,
    fileNamePrefix: q.fileName,
    deviceSerial: q.deviceSerial,
    deviceLabel: q.deviceLabel,
    from: isoOrThrow(q.from, 'from'),
    to: isoOrThrow(q.to, 'to'),
  };
}

/** Routes only the admin console needs: dashboard aggregates, one log row with its chain, CSV export, agent health. */
export function consoleRoutes(s: ConsoleRouteServices) {
  return (app: FastifyInstance): void => {
    app.get('/api/v1/console/dashboard', { schema: { tags: ['console'], summary: 'Exports per day by action and zone (14 days), top users and devices (7 days), agents, pending requests' } }, async (request, reply) => {
      await s.auth.person(request, ['admin', 'auditor']);
      noStore(reply);
      return s.console.dashboard();
    });

    app.get<{ Params: Static<typeof SeqParams> }>(
      '/api/v1/console/events/:seq',
      { schema: { tags: ['console'], summary: 'One export-log row with every field and whether the chain verifies around it', params: SeqParams } },
      async (request) => {
        await s.auth.person(request, ['auditor', 'admin']);
        return s.console.eventDetail(Number(request.params.seq));
      },
    );

    app.get<{ Querystring: CsvQuery }>(
      '/api/v1/console/events.csv',
      { schema: { tags: ['console'], summary: 'Every row matching the filter as CSV (UTF-8 with BOM), newest first, streamed', querystring: CsvQuery } },
      async (request, reply) => {
        const user = await s.auth.person(request, ['auditor', 'admin']);
        const filter = filterOf(request.query);
        // Taking a copy of the log out of the server is itself worth a line in the audit log.
        await s.audit.record(user.username, 'log.export-csv', 'export-log', { filter: request.query });
        const pages = s.console.pages(filter);
        async function* csv(): AsyncGenerator<string> {
          yield `\uFEFF${CSV_COLUMNS.join(',')}\r\n`;
          for await (const page of pages) yield page.map(csvLine).join('');
        }
        const stamp = new Date().toISOString().slice(0, 19).replace(/[-:]/g, '');
        noStore(reply);
        reply.header('content-type', 'text/csv; charset=utf-8');
        reply.header('content-disposition', `attachment; filename="exitseal-export-log-${stamp}.csv"`);
        return reply.send(Readable.from(csv()));
      },
    );

    app.get('/api/v1/console/agents', { schema: { tags: ['console'], summary: 'Agents with online state (seen in the last 15 minutes) and whether they hold the current policy' } }, async (request) => {
      await s.auth.person(request, ['admin', 'auditor']);
      return { agents: await s.console.agents() };
    });

    app.get('/api/v1/console/my-requests', { schema: { tags: ['console'], summary: "The signed-in person's own requests (matched on the OS user name their agent reported)" } }, async (request) => {
      const user = await s.auth.person(request, ['staff', 'approver', 'admin', 'auditor']);
      const own = await s.console.requestsOf(user.username);
      return { requests: await Promise.all(own.map((r) => s.requests.get(r.id))) };
    });
  };
}
