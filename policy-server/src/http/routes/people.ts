import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { ZoneIdSchema } from '@exitseal/core/policy';
import { ErrorBodySchema } from '@exitseal/core/wire';
import { badRequest } from '../../errors.js';
import { clearedSessionCookie, noStore, sessionCookie, type RequestAuthenticator } from '../auth.js';
import type { AuditService } from '../../services/audit.js';
import type { EnrolmentService } from '../../services/enrolment.js';
import { parseSortCursor, type EventService } from '../../services/events.js';
import type { RequestService } from '../../services/requests.js';
import type { UserService } from '../../services/users.js';
import type { ZoneService } from '../../services/zones.js';
import { EVENT_SORT_KEYS, ROLES, type EventFilter } from '../../storage/store.js';
import { EventFilterFields } from './event-filters.js';

export interface PeopleRouteServices {
  readonly auth: RequestAuthenticator;
  readonly users: UserService;
  readonly zones: ZoneService;
  readonly enrolment: EnrolmentService;
  readonly events: EventService;
  readonly audit: AuditService;
  readonly requests: RequestService;
  readonly sessionTtlMinutes: number;
}

const LoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
const PasswordBody = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: 1024 }), newPassword: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
const SessionView = Type.Object({ username: Type.String(), role: Type.String(), csrfToken: Type.String() });
const ZoneParams = Type.Object({ zoneId: ZoneIdSchema }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) }, { additionalProperties: false });
const TokenBody = Type.Object({ zoneId: Type.Optional(ZoneIdSchema), validHours: Type.Integer({ minimum: 1, maximum: 24 * 365 }) }, { additionalProperties: false });
const RecipientBody = Type.Object({ recipient: Type.Union([Type.String({ maxLength: 100 }), Type.Null()]) }, { additionalProperties: false });
const UserBody = Type.Object(
  { username: Type.String({ minLength: 1, maxLength: 64 }), role: Type.Union(ROLES.map((r) => Type.Literal(r))), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
const DecisionBody = Type.Object(
  { decision: Type.Union([Type.Literal('approve'), Type.Literal('deny')]), reason: Type.String({ minLength: 1, maxLength: 2048 }) },
  { additionalProperties: false },
);
const Digits = Type.String({ pattern: '^[0-9]{1,15}$' });
const EventQuery = Type.Object(
  {
    ...EventFilterFields,
    before: Type.Optional(Digits),
    sort: Type.Optional(Type.Union(EVENT_SORT_KEYS.map((k) => Type.Literal(k)), { description: 'absent: seq (arrival), newest first' })),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
    after: Type.Optional(Type.String({ maxLength: 1100, description: 'nextAfter of the previous page of a sorted search' })),
    limit: Type.Optional(Digits),
  },
  { additionalProperties: false },
);
type EventQuery = Static<typeof EventQuery>;
const PageQuery = Type.Object({ before: Type.Optional(Digits), limit: Type.Optional(Digits), status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied')])) }, { additionalProperties: false });
const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema };

function pageLimit(text: string | undefined, fallback: number, max: number): number {
  const limit = text === undefined ? fallback : Number(text);
  if (limit < 1 || limit > max) throw badRequest('LIMIT_INVALID', `limit must be from 1 to ${max}`);
  return limit;
}

function isoOrThrow(text: string | undefined, name: string): string | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw badRequest('TIME_INVALID', `${name} is not a real date`);
  return new Date(ms).toISOString();
}

/** Routes for people (the admin UI and scripts): session cookie, CSRF header on changes, role checks. */
export function peopleRoutes(s: PeopleRouteServices) {
  return (app: FastifyInstance): void => {
    app.post<{ Body: Static<typeof LoginBody> }>(
      '/api/v1/session',
      { schema: { tags: ['people'], summary: 'Log in; sets the session cookie and returns the CSRF token', body: LoginBody, response: { 200: SessionView, ...errors } } },
      async (request, reply) => {
        const { sessionId, user } = await s.users.login(request.body.username, request.body.password, request.ip);
        noStore(reply);
        reply.header('set-cookie', sessionCookie(sessionId, s.sessionTtlMinutes * 60));
        return { username: user.username, role: user.role, csrfToken: user.csrfToken };
      },
    );
    app.get('/api/v1/session', { schema: { tags: ['people'], response: { 200: SessionView, ...errors } } }, async (request, reply) => {
      const user = await s.auth.person(request, ROLES);
      noStore(reply);
      return { username: user.username, role: user.role, csrfToken: user.csrfToken };
    });
    app.delete('/api/v1/session', { schema: { tags: ['people'] } }, async (request, reply) => {
      const user = await s.auth.person(request, ROLES);
      await s.users.logout(user);
      reply.header('set-cookie', clearedSessionCookie());
      return reply.code(204).send();
    });
    app.post<{ Body: Static<typeof PasswordBody> }>(
      '/api/v1/session/password',
      {
        schema: {
          tags: ['people'],
          summary: 'Change your own password (current one required; at least 12 characters, not the user name); ends your other sessions',
          body: PasswordBody,
          response: { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 429: ErrorBodySchema },
        },
      },
      async (request, reply) => {
        const user = await s.auth.person(request, ROLES);
        await s.users.changePassword(user, request.body.currentPassword, request.body.newPassword, request.ip);
        noStore(reply);
        return reply.code(204).send();
      },
    );

    app.get('/api/v1/zones', { schema: { tags: ['zones'] } }, async (request) => {
      await s.auth.person(request, ['admin', 'approver', 'auditor']);
      return { zones: await s.zones.list(), keys: await s.zones.publicKeys(), recoveryRecipient: await s.zones.recoveryRecipient() };
    });
    app.put<{ Params: Static<typeof ZoneParams>; Body: unknown }>(
      '/api/v1/zones/:zoneId',
      {
        schema: {
          tags: ['zones'],
          summary: 'Create or replace a zone with its policy; the whole zone set is validated and every problem listed (422)',
          params: ZoneParams,
          body: Type.Object({ zone: Type.Object({ id: ZoneIdSchema }), policy: Type.Object({}) }, { description: 'ZoneWithPolicy; validated in full by the policy validator' }),
        },
      },
      async (request) => {
        const user = await s.auth.person(request, ['admin']);
        const body = request.body as { zone: { id: string } };
        if (body.zone.id !== request.params.zoneId) throw badRequest('ZONE_ID_MISMATCH', 'zone.id must equal the zone id in the URL');
        const [saved] = await s.zones.save(user.username, [request.body]);
        return saved;
      },
    );
    app.put<{ Body: { zones: unknown[] } }>(
      '/api/v1/zones',
      {
        schema: {
          tags: ['zones'],
          summary: 'Create or replace several zones at once (zones whose matrices refer to each other); all or nothing',
          body: Type.Object({ zones: Type.Array(Type.Object({ zone: Type.Object({ id: ZoneIdSchema }), policy: Type.Object({}) }), { minItems: 1, maxItems: 256 }) }, { additionalProperties: false }),
        },
      },
      async (request) => {
        const user = await s.auth.person(request, ['admin']);
        return { zones: await s.zones.save(user.username, request.body.zones) };
      },
    );
    app.post<{ Params: Static<typeof ZoneParams> }>(
      '/api/v1/zones/:zoneId/keys',
      { schema: { tags: ['zones'], summary: 'Rotate the zone key: a new version; old versions keep opening old files', params: ZoneParams } },
      async (request, reply) => {
        const user = await s.auth.person(request, ['admin']);
        return reply.code(201).send(await s.zones.rotateKey(user.username, request.params.zoneId));
      },
    );
    app.put<{ Body: Static<typeof RecipientBody> }>('/api/v1/recovery-recipient', { schema: { tags: ['zones'], body: RecipientBody } }, async (request, reply) => {
      const user = await s.auth.person(request, ['admin']);
      await s.zones.setRecoveryRecipient(user.username, request.body.recipient);
      return reply.code(204).send();
    });

    app.post<{ Body: Static<typeof TokenBody> }>(
      '/api/v1/enrolment-tokens',
      { schema: { tags: ['agents'], summary: 'A one-time enrolment token, shown once', body: TokenBody } },
      async (request, reply) => {
        const user = await s.auth.person(request, ['admin']);
        noStore(reply);
        return reply.code(201).send(await s.enrolment.createToken(user.username, { zoneId: request.body.zoneId ?? null, validHours: request.body.validHours }));
      },
    );
    app.get('/api/v1/agents', { schema: { tags: ['agents'] } }, async (request) => {
      await s.auth.person(request, ['admin', 'auditor']);
      return { agents: (await s.enrolment.list()).map(({ lastEventHash: _h, ...agent }) => agent) };
    });
    app.post<{ Params: Static<typeof IdParams> }>('/api/v1/agents/:id/revoke', { schema: { tags: ['agents'], params: IdParams } }, async (request, reply) => {
      const user = await s.auth.person(request, ['admin']);
      await s.enrolment.revoke(user.username, request.params.id);
      return reply.code(204).send();
    });

    app.get<{ Querystring: EventQuery }>(
      '/api/v1/events',
      {
        schema: {
          tags: ['log'],
          summary: 'Search the export log, newest first by default (page with nextCursor as "before"), or sorted by sort/order (page with nextAfter as "after")',
          querystring: EventQuery,
        },
      },
      async (request) => {
        await s.auth.person(request, ['auditor', 'admin']);
        const q = request.query;
        const filter: EventFilter = {
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
          beforeSeq: q.before === undefined ? undefined : Number(q.before),
          sort: q.sort === undefined && q.order === undefined ? undefined : { key: q.sort ?? 'seq', descending: q.order !== 'asc' },
          after: q.after === undefined ? undefined : parseSortCursor(q.after, q.sort ?? 'seq'),
          limit: pageLimit(q.limit, 100, 1000),
        };
        if (filter.after !== undefined && filter.beforeSeq !== undefined) throw badRequest('CURSOR_INVALID', 'give either before (default order) or after (sorted), not both');
        return s.events.search(filter);
      },
    );
    app.get('/api/v1/log/verify', { schema: { tags: ['log'], summary: 'Recompute the export and audit chains and report every broken row' } }, async (request) => {
      await s.auth.person(request, ['auditor', 'admin']);
      return { export: await s.events.verify(), audit: await s.audit.verify() };
    });
    app.get<{ Querystring: Static<typeof PageQuery> }>('/api/v1/audit', { schema: { tags: ['log'], querystring: PageQuery } }, async (request) => {
      await s.auth.person(request, ['auditor', 'admin']);
      return { entries: await s.audit.list(request.query.before === undefined ? undefined : Number(request.query.before), pageLimit(request.query.limit, 100, 1000)) };
    });

    app.get<{ Querystring: Static<typeof PageQuery> }>('/api/v1/requests', { schema: { tags: ['requests'], querystring: PageQuery } }, async (request) => {
      await s.auth.person(request, ['approver', 'admin', 'auditor']);
      return { requests: await s.requests.list({ status: request.query.status, limit: pageLimit(request.query.limit, 100, 1000) }) };
    });
    app.get<{ Params: Static<typeof IdParams> }>('/api/v1/requests/:id', { schema: { tags: ['requests'], params: IdParams } }, async (request) => {
      await s.auth.person(request, ['approver', 'admin', 'auditor']);
      return s.requests.get(request.params.id);
    });
    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof DecisionBody> }>(
      '/api/v1/requests/:id/decision',
      { schema: { tags: ['requests'], summary: 'Approve or deny the current step (the role the zone policy names for it)', params: IdParams, body: DecisionBody } },
      async (request) => {
        const user = await s.auth.person(request, ['approver', 'admin']);
        return s.requests.decide(user, request.params.id, request.body.decision, request.body.reason);
      },
    );

    app.post<{ Body: Static<typeof UserBody> }>('/api/v1/users', { schema: { tags: ['people'], body: UserBody } }, async (request, reply) => {
      const actor = await s.auth.person(request, ['admin']);
      const user = await s.users.create(actor.username, request.body);
      return reply.code(201).send({ id: user.id, username: user.username, role: user.role });
    });
    app.get('/api/v1/users', { schema: { tags: ['people'] } }, async (request) => {
      await s.auth.person(request, ['admin']);
      return { users: (await s.users.list()).map((u) => ({ id: u.id, username: u.username, role: u.role, createdAt: u.createdAt })) };
    });

    app.get('/healthz', { schema: { hide: true } }, () => ({ ok: true }));
  };
}
