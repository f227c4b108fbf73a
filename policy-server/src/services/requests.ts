import { randomUUID } from 'node:crypto';
import { inspect, isExitSealError, parseHeader, rekeyForPassphrase, unlockHeader, type ParsedHeader } from '@exitseal/core';
import { signReleaseToken } from '@exitseal/core/policy';
import type { DecryptRequestCreate, ReleaseRequestCreate, RequestOutcome } from '@exitseal/core/wire';
import type { MasterKey } from '../crypto/masterKey.js';
import { badRequest, conflict, forbidden, notFound } from '../errors.js';
import type { AgentRecord, Decision, RequestRecord, RequestStatus, Store } from '../storage/store.js';
import type { AuditService } from './audit.js';
import type { Clock } from './clock.js';
import type { ServerIdentity } from './identity.js';
import type { AuthenticatedUser } from './users.js';
import type { ZoneService } from './zones.js';

/** What a person sees of a request: never the header bytes or the outcome. */
export interface RequestView {
  readonly id: string;
  readonly kind: RequestRecord['kind'];
  readonly status: RequestStatus;
  readonly agentId: string;
  readonly osUser: string;
  readonly fileName: string;
  readonly reason: string;
  readonly policyZoneId: string;
  readonly createdAt: string;
  readonly detail: Record<string, unknown>;
  readonly steps: readonly string[];
  readonly decisions: readonly Omit<Decision, 'userId'>[];
}

function parseStrictBase64(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== text.replace(/=+$/, '')) throw badRequest('BASE64_INVALID', `${what} is not valid base64`);
  return bytes;
}

/** Decrypt and plaintext-release requests, their approval chains, and what the requester's agent receives. */
export class RequestService {
  constructor(
    private readonly store: Store,
    private readonly zones: ZoneService,
    private readonly identity: ServerIdentity,
    private readonly masterKey: MasterKey,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly releaseTokenHours: number,
  ) {}

  private async chainOf(zoneId: string, kind: 'decrypt' | 'release'): Promise<readonly string[]> {
    const entry = (await this.zones.list()).find((e) => e.zone.id === zoneId);
    if (entry === undefined) throw badRequest('ZONE_UNKNOWN', `zone "${zoneId}" does not exist`);
    return entry.policy.approvals[kind].steps;
  }

  /** Parses the sealed file's header and checks its MAC with the zone key, so junk never reaches an approver. */
  private async readSealedHeader(headerBase64: string): Promise<{ header: ParsedHeader; bytes: Buffer; zoneId: string; keyVersion: number; fileId: string }> {
    const raw = parseStrictBase64(headerBase64, 'header');
    let header: ParsedHeader;
    let meta;
    try {
      header = parseHeader(raw);
      meta = inspect(raw, true).meta;
    } catch (cause) {
      throw badRequest('HEADER_INVALID', `header is not a complete age header${isExitSealError(cause) ? `: ${cause.message}` : ''}`, cause);
    }
    if (meta === null) throw badRequest('NOT_EXITSEAL', 'the header has no ExitSeal metadata: it was not sealed by ExitSeal');
    const identity = await this.zones.identity(meta.zoneId, meta.keyVersion);
    try {
      await unlockHeader(header, [identity]);
    } catch (cause) {
      throw badRequest('HEADER_MAC_INVALID', 'the header does not verify with its zone key (altered or damaged)', cause);
    }
    return { header, bytes: raw.subarray(0, header.length), zoneId: meta.zoneId, keyVersion: meta.keyVersion, fileId: meta.fileId };
  }

  async createDecrypt(agent: AgentRecord, input: DecryptRequestCreate): Promise<RequestRecord> {
    const sealed = await this.readSealedHeader(input.header);
    // The file's zone of origin owns the data, so its policy decides who approves opening it elsewhere.
    const steps = await this.chainOf(sealed.zoneId, 'decrypt');
    const request: RequestRecord = {
      id: randomUUID(),
      kind: 'decrypt',
      status: 'pending',
      agentId: agent.id,
      osUser: input.osUser,
      policyZoneId: sealed.zoneId,
      steps,
      reason: input.reason,
      fileName: input.fileName,
      createdAt: this.clock.now().toISOString(),
      detail: { purpose: input.purpose, header: sealed.bytes.toString('base64'), fileId: sealed.fileId, originZoneId: sealed.zoneId, keyVersion: sealed.keyVersion },
      decisions: [],
      sealedOutcome: null,
    };
    await this.store.requests.create(request);
    await this.audit.record(`agent:${agent.id}`, 'request.create', request.id, { kind: 'decrypt', purpose: input.purpose, fileId: sealed.fileId });
    return request;
  }

  async createRelease(agent: AgentRecord, input: ReleaseRequestCreate): Promise<RequestRecord> {
    // Plaintext leaves from the requester's zone, so that zone's policy decides.
    const steps = await this.chainOf(agent.zoneId, 'release');
    const request: RequestRecord = {
      id: randomUUID(),
      kind: 'release',
      status: 'pending',
      agentId: agent.id,
      osUser: input.osUser,
      policyZoneId: agent.zoneId,
      steps,
      reason: input.reason,
      fileName: input.fileName,
      createdAt: this.clock.now().toISOString(),
      detail: { size: input.size, sha256: input.sha256, destination: input.destination },
      decisions: [],
      sealedOutcome: null,
    };
    await this.store.requests.create(request);
    await this.audit.record(`agent:${agent.id}`, 'request.create', request.id, { kind: 'release', sha256: input.sha256 });
    return request;
  }

  async list(filter: { status?: RequestStatus; limit: number }): Promise<RequestView[]> {
    return (await this.store.requests.list(filter)).map(toView);
  }

  async get(id: string): Promise<RequestView> {
    const request = await this.store.requests.get(id);
    if (request === null) throw notFound(`request "${id}"`);
    return toView(request);
  }

  /**
   * One approval step. The user must hold the role the current step names and must not have decided an
   * earlier step of the same request. A denial ends the request; the last approval computes the outcome.
   */
  async decide(user: AuthenticatedUser, id: string, decision: 'approve' | 'deny', reason: string): Promise<RequestView> {
    const request = await this.store.requests.get(id);
    if (request === null) throw notFound(`request "${id}"`);
    if (request.status !== 'pending') throw conflict('REQUEST_DECIDED', `the request is already ${request.status}`);
    const step = request.decisions.length;
    const role = request.steps[step];
    if (role !== user.role) throw forbidden('ROLE_FORBIDDEN', `step ${step + 1} of ${request.steps.length} must be decided by the role ${role ?? '?'}; you are ${user.role}`);
    if (request.decisions.some((d) => d.userId === user.id)) throw forbidden('SAME_APPROVER', 'you already decided an earlier step of this request; another person must decide this one');
    const last = step === request.steps.length - 1;
    const status: RequestStatus = decision === 'deny' ? 'denied' : last ? 'approved' : 'pending';
    const outcome = status === 'approved' ? this.masterKey.seal(Buffer.from(JSON.stringify(await this.computeOutcome(request))), `request-outcome:${id}`) : null;
    const record: Decision = { step, userId: user.id, username: user.username, role: user.role, decision, reason, at: this.clock.now().toISOString() };
    if (!(await this.store.requests.decide(id, record, status, outcome))) throw conflict('REQUEST_CHANGED', 'someone else decided this step meanwhile; reload');
    await this.audit.record(user.username, `request.${decision}`, id, { step: step + 1, of: request.steps.length, kind: request.kind });
    return this.get(id);
  }

  private async computeOutcome(request: RequestRecord): Promise<Partial<RequestOutcome>> {
    if (request.kind === 'release') {
      const expiresAt = new Date(this.clock.now().getTime() + this.releaseTokenHours * 3600_000).toISOString();
      const releaseToken = signReleaseToken(
        {
          v: 1,
          requestId: request.id,
          agentId: request.agentId,
          osUser: request.osUser,
          sha256: String(request.detail.sha256),
          fileName: request.fileName,
          destination: String(request.detail.destination),
          expiresAt,
        },
        this.identity.signingKey,
      );
      return { releaseToken, releaseExpiresAt: expiresAt };
    }
    const sealed = await this.readSealedHeader(String(request.detail.header));
    const identity = await this.zones.identity(sealed.zoneId, sealed.keyVersion);
    const fileKey = await unlockHeader(sealed.header, [identity]);
    if (request.detail.purpose === 'outside-recipient') {
      const copy = await rekeyForPassphrase(fileKey);
      return { recipientHeader: copy.header.toString('base64'), passphrase: copy.passphrase, fileId: sealed.fileId };
    }
    return { fileKey: fileKey.toString('base64'), fileId: sealed.fileId };
  }

  /** The requester's agent polls this; other agents get "not found". */
  async outcomeFor(agent: AgentRecord, id: string): Promise<RequestOutcome> {
    const request = await this.store.requests.get(id);
    if (request === null || request.agentId !== agent.id) throw notFound(`request "${id}"`);
    const lastDecision = request.decisions[request.decisions.length - 1];
    const base: RequestOutcome = {
      id: request.id,
      kind: request.kind,
      status: request.status,
      ...(request.status !== 'pending' && lastDecision ? { decisionReason: lastDecision.reason } : {}),
    };
    if (request.status !== 'approved' || request.sealedOutcome === null) return base;
    const outcome = JSON.parse(this.masterKey.open(request.sealedOutcome, `request-outcome:${id}`).toString()) as Partial<RequestOutcome>;
    return { ...base, ...outcome };
  }
}

function toView(r: RequestRecord): RequestView {
  const { header: _header, ...detail } = r.detail;
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    agentId: r.agentId,
    osUser: r.osUser,
    fileName: r.fileName,
    reason: r.reason,
    policyZoneId: r.policyZoneId,
    createdAt: r.createdAt,
    detail,
    steps: r.steps,
    decisions: r.decisions.map(({ userId: _userId, ...d }) => d),
  };
}
