import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  BundlePollQuerySchema,
  backlogFromQuery,
  DecryptRequestCreateSchema,
  EnrolRequestSchema,
  EnrolResponseSchema,
  ErrorBodySchema,
  EventBatchResultSchema,
  EventBatchSchema,
  ReleaseRequestCreateSchema,
  RequestCreatedSchema,
  RequestOutcomeSchema,
  SignedBundleSchema,
  type BundlePollQuery,
  type DecryptRequestCreate,
  type EnrolRequest,
  type EventBatch,
  type ReleaseRequestCreate,
} from '@exitseal/core/wire';
import { badRequest } from '../../errors.js';
import { noStore, type RequestAuthenticator } from '../auth.js';
import type { BundleService } from '../../services/bundles.js';
import type { EnrolmentService } from '../../services/enrolment.js';
import type { EventService } from '../../services/events.js';
import type { RequestService } from '../../services/requests.js';

export interface AgentRouteServices {
  readonly auth: RequestAuthenticator;
  readonly enrolment: EnrolmentService;
  readonly bundles: BundleService;
  readonly events: EventService;
  readonly requests: RequestService;
}

const errors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema };
const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) }, { additionalProperties: false });

/** Routes the endpoint agent calls. Everything but enrolment needs the agent's client certificate. */
export function agentRoutes(s: AgentRouteServices) {
  return (app: FastifyInstance): void => {
    app.post<{ Body: EnrolRequest }>(
      '/agent/v1/enrol',
      { schema: { tags: ['agent'], summary: 'Enrol with a one-time token and a CSR; returns the client certificate', body: EnrolRequestSchema, response: { 200: EnrolResponseSchema, ...errors } } },
      async (request, reply) => {
        noStore(reply);
        return s.enrolment.enrol(request.body);
      },
    );

    app.get<{ Querystring: BundlePollQuery }>(
      '/agent/v1/bundle',
      {
        schema: {
          tags: ['agent'],
          summary: 'The signed policy bundle; send If-None-Match with the last ETag to get 304 when nothing changed. The query carries the agent\'s backlog (all three counts or none)',
          headers: Type.Object({ 'if-none-match': Type.Optional(Type.String({ maxLength: 128 })) }),
          querystring: BundlePollQuerySchema,
          response: { 200: SignedBundleSchema, 304: Type.Null(), ...errors },
        },
      },
      async (request, reply) => {
        const agent = await s.auth.agent(request);
        const backlog = backlogFromQuery(request.query);
        if (backlog === null) throw badRequest('BACKLOG_INVALID', 'outboxEvents, pendingJobs and quarantinedFiles go together, each from 0 to 1000000000');
        const { etag, revision } = await s.bundles.etag(agent);
        await s.enrolment.recordSeen(agent, revision, backlog);
        noStore(reply);
        reply.header('etag', etag);
        if (request.headers['if-none-match'] === etag) return reply.code(304).send();
        return s.bundles.build(agent, revision);
      },
    );

    app.post<{ Body: EventBatch }>(
      '/agent/v1/events',
      { schema: { tags: ['agent'], summary: 'Upload export events; a resent batch is counted as duplicates', body: EventBatchSchema, response: { 200: EventBatchResultSchema, ...errors } } },
      async (request) => {
        const agent = await s.auth.agent(request);
        const result = await s.events.ingest(agent, request.body);
        // Only once the batch is stored: the backlog it carries counts what is left after it.
        await s.enrolment.recordUpload(agent, request.body.backlog);
        return result;
      },
    );

    app.post<{ Body: DecryptRequestCreate }>(
      '/agent/v1/requests/decrypt',
      { schema: { tags: ['agent'], summary: 'Ask for a sealed file to be opened (here or for an outside recipient)', body: DecryptRequestCreateSchema, response: { 201: RequestCreatedSchema, ...errors } } },
      async (request, reply) => {
        const agent = await s.auth.agent(request);
        const created = await s.requests.createDecrypt(agent, request.body);
        return reply.code(201).send({ id: created.id, status: created.status });
      },
    );

    app.post<{ Body: ReleaseRequestCreate }>(
      '/agent/v1/requests/release',
      { schema: { tags: ['agent'], summary: 'Ask for one file (by SHA-256) to leave in plaintext', body: ReleaseRequestCreateSchema, response: { 201: RequestCreatedSchema, ...errors } } },
      async (request, reply) => {
        const agent = await s.auth.agent(request);
        const created = await s.requests.createRelease(agent, request.body);
        return reply.code(201).send({ id: created.id, status: created.status });
      },
    );

    app.get<{ Params: { id: string } }>(
      '/agent/v1/requests/:id',
      { schema: { tags: ['agent'], summary: "A request's status and, once approved, its outcome (file key, recipient header or release token)", params: IdParams, response: { 200: RequestOutcomeSchema, 404: ErrorBodySchema, ...errors } } },
      async (request, reply) => {
        const agent = await s.auth.agent(request);
        noStore(reply);
        return s.requests.outcomeFor(agent, request.params.id);
      },
    );
  };
}
