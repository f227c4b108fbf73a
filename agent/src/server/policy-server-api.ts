import { Type, type TSchema, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ExitSealError } from '@exitseal/core';
import {
  backlogQuery,
  EnrolResponseSchema,
  EventBatchResultSchema,
  RequestCreatedSchema,
  RequestOutcomeSchema,
  type AgentBacklog,
  type DecryptRequestCreate,
  type EnrolRequest,
  type EnrolResponse,
  type EventBatchResult,
  type ExportEvent,
  type ReleaseRequestCreate,
  type RequestOutcome,
} from '@exitseal/core/wire';
import { ServerUnreachableError, type HttpsTransport } from './https-transport.js';

/** The server answered, but not with success. 4xx is our request's fault (not retried); 5xx is the server's. */
export class ServerRequestError extends ExitSealError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message, { kind: status >= 500 || status === 429 ? 'fault' : 'client' });
    this.name = 'ServerRequestError';
  }
}

/** Network trouble and server faults pass; a refused request would be refused again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ServerUnreachableError) return true;
  return error instanceof ServerRequestError && (error.status >= 500 || error.status === 429);
}

export type RequestCreated = Static<typeof RequestCreatedSchema>;

export type BundleAnswer = { readonly changed: false } | { readonly changed: true; readonly etag: string | undefined; readonly signedBundle: unknown };

const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() });

/** The agent's backlog at the moment of a call (implemented by upload/backlog.ts). */
export interface BacklogSource {
  current(): Promise<AgentBacklog>;
}

/**
 * The policy server's agent API (/agent/v1), typed. Every answer is checked against the shared wire schema
 * before the agent uses it: the server is trusted for authenticity (TLS), not for well-formedness.
 */
export class PolicyServerApi {
  private backlog: BacklogSource | undefined;

  constructor(private readonly transport: HttpsTransport) {}

  /** From now on every poll and every event upload tells the server the agent's backlog. */
  reportBacklog(source: BacklogSource): void {
    this.backlog = source;
  }

  get serverUrl(): string {
    return this.transport.baseUrl;
  }

  enrol(request: EnrolRequest): Promise<EnrolResponse> {
    return this.call('POST', '/agent/v1/enrol', EnrolResponseSchema, [200], request);
  }

  /** Conditional GET: with the last ETag, an unchanged policy costs one empty 304. */
  async bundle(etag: string | undefined): Promise<BundleAnswer> {
    const backlog = await this.backlog?.current();
    const path = backlog === undefined ? '/agent/v1/bundle' : `/agent/v1/bundle?${backlogQuery(backlog)}`;
    const response = await this.transport.request('GET', path, { headers: etag ? { 'if-none-match': etag } : {} });
    if (response.status === 304) return { changed: false };
    if (response.status !== 200) throw this.failure(response.status, response.json, '/agent/v1/bundle');
    return { changed: true, etag: response.etag, signedBundle: response.json };
  }

  /**
   * Uploads a batch taken from the outbox (so still counted there as pending): the backlog sent with it is
   * what will be left once the server has stored it.
   */
  async uploadEvents(events: readonly ExportEvent[]): Promise<EventBatchResult> {
    const backlog = await this.backlog?.current();
    const body = backlog === undefined ? { events } : { events, backlog: { ...backlog, outboxEvents: Math.max(0, backlog.outboxEvents - events.length) } };
    return this.call('POST', '/agent/v1/events', EventBatchResultSchema, [200], body);
  }

  createDecryptRequest(request: DecryptRequestCreate): Promise<RequestCreated> {
    return this.call('POST', '/agent/v1/requests/decrypt', RequestCreatedSchema, [201], request);
  }

  createReleaseRequest(request: ReleaseRequestCreate): Promise<RequestCreated> {
    return this.call('POST', '/agent/v1/requests/release', RequestCreatedSchema, [201], request);
  }

  requestOutcome(id: string): Promise<RequestOutcome> {
    return this.call('GET', `/agent/v1/requests/${encodeURIComponent(id)}`, RequestOutcomeSchema, [200]);
  }

  close(): void {
    this.transport.close();
  }

  private async call<S extends TSchema>(method: 'GET' | 'POST', path: string, schema: S, ok: readonly number[], body?: unknown): Promise<Static<S>> {
    const response = await this.transport.request(method, path, { body });
    if (!ok.includes(response.status)) throw this.failure(response.status, response.json, path);
    if (!Value.Check(schema, response.json)) {
      const first = Value.Errors(schema, response.json).First();
      throw new ServerRequestError(502, 'SERVER_ANSWER_INVALID', `${path}: the server's answer is malformed at ${first?.path ?? '/'} (${first?.message ?? 'invalid'})`);
    }
    return response.json;
  }

  private failure(status: number, json: unknown, path: string): ServerRequestError {
    if (Value.Check(ErrorBody, json)) return new ServerRequestError(status, json.code, `${path}: ${json.message}`);
    return new ServerRequestError(status, `HTTP_${status}`, `${path}: the server answered ${status}`);
  }
}
