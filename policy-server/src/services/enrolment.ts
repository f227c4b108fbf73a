import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AgentBacklog, EnrolRequest, EnrolResponse } from '@exitseal/core/wire';
import { badRequest, forbidden, notFound, ServerError } from '../errors.js';
import { signAgentCsr } from '../pki/forge.js';
import type { AgentRecord, Store } from '../storage/store.js';
import type { AuditService } from './audit.js';
import type { Clock } from './clock.js';
import { certificateFingerprint, type ServerIdentity } from './identity.js';

const tokenInvalid = (code: string, message: string) => new ServerError(401, code, message);

function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface CreatedEnrolmentToken {
  readonly token: string;
  readonly expiresAt: string;
  readonly zoneId: string | null;
  /** The server CA's SHA-256 fingerprint, which the agent pins when it enrols with this token. */
  readonly caFingerprint: string;
}

/** One-time enrolment tokens, CSR signing, and agent authentication/revocation by client certificate. */
export class EnrolmentService {
  constructor(
    private readonly store: Store,
    private readonly identity: ServerIdentity,
    private readonly audit: AuditService,
    private readonly clock: Clock,
    private readonly limits: { maxTokenHours: number; certificateDays: number },
  ) {}

  private async requireAgentZone(zoneId: string): Promise<void> {
    const zone = (await this.store.zones.list()).find((z) => z.zone.id === zoneId);
    if (zone === undefined) throw badRequest('ZONE_UNKNOWN', `zone "${zoneId}" does not exist`);
    if (zone.zone.fallback) throw badRequest('ZONE_FALLBACK', 'an agent cannot be enrolled into the fallback zone');
  }

  /** The token is shown once (to the admin who made it); only its hash is stored. */
  async createToken(actor: string, options: { zoneId: string | null; validHours: number }): Promise<CreatedEnrolmentToken> {
    if (!Number.isInteger(options.validHours) || options.validHours < 1 || options.validHours > this.limits.maxTokenHours) {
      throw badRequest('TOKEN_VALIDITY_INVALID', `validHours must be an integer from 1 to ${this.limits.maxTokenHours}`);
    }
    if (options.zoneId !== null) await this.requireAgentZone(options.zoneId);
    const token = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + options.validHours * 3600_000).toISOString();
    const id = randomUUID();
    await this.store.enrolment.create({ id, tokenHash: hashToken(token), zoneId: options.zoneId, expiresAt, createdBy: actor, createdAt: now.toISOString(), usedAt: null });
    await this.audit.record(actor, 'enrolment-token.create', id, { zoneId: options.zoneId, expiresAt });
    return { token, expiresAt, zoneId: options.zoneId, caFingerprint: certificateFingerprint(this.identity.ca.certificatePem) };
  }

  async enrol(request: EnrolRequest): Promise<EnrolResponse> {
    const tokenHash = hashToken(request.token);
    const token = await this.store.enrolment.findByHash(tokenHash);
    const now = this.clock.now();
    if (token === null) throw tokenInvalid('ENROLMENT_TOKEN_INVALID', 'the enrolment token is not known');
    if (token.usedAt !== null) throw tokenInvalid('ENROLMENT_TOKEN_USED', 'the enrolment token was already used');
    if (Date.parse(token.expiresAt) <= now.getTime()) throw tokenInvalid('ENROLMENT_TOKEN_EXPIRED', `the enrolment token expired at ${token.expiresAt}`);
    if (token.zoneId !== null && request.zoneId !== undefined && request.zoneId !== token.zoneId) {
      throw forbidden('ZONE_PINNED', `this token enrols into zone "${token.zoneId}" only`);
    }
    const zoneId = token.zoneId ?? request.zoneId;
    if (zoneId === undefined) throw badRequest('ZONE_REQUIRED', 'this token is not pinned to a zone: give zoneId');
    await this.requireAgentZone(zoneId);

    const agentId = randomUUID();
    const issued = signAgentCsr(this.identity.ca, request.csrPem, agentId, this.limits.certificateDays, now);
    const agent: AgentRecord = {
      id: agentId,
      hostname: request.hostname,
      zoneId,
      osName: request.osName,
      agentVersion: request.agentVersion,
      certFingerprint: issued.fingerprint,
      certSerial: issued.serial,
      enrolledAt: now.toISOString(),
      revokedAt: null,
      lastSeenAt: null,
      lastBundleRevision: null,
      lastEventHash: null,
      backlog: null,
    };
    if (!(await this.store.enrolment.consume(tokenHash, now.toISOString(), agent))) {
      throw tokenInvalid('ENROLMENT_TOKEN_USED', 'the enrolment token was used or expired meanwhile');
    }
    await this.audit.record(`agent:${agentId}`, 'agent.enrol', agentId, { hostname: request.hostname, zoneId, tokenCreatedBy: token.createdBy });
    return {
      agentId,
      zoneId,
      certificatePem: issued.certificatePem,
      caCertificatePem: this.identity.ca.certificatePem,
      bundleSigningKey: this.identity.signingKey.publicKey.toBase64(),
    };
  }

  /**
   * Maps a TLS client certificate (already verified against our CA by the TLS layer) to an enrolled,
   * unrevoked agent.
   */
  async authenticate(fingerprint: string): Promise<AgentRecord> {
    const agent = await this.store.agents.findByFingerprint(fingerprint);
    if (agent === null) throw new ServerError(401, 'AGENT_UNKNOWN', 'this client certificate belongs to no enrolled agent');
    if (agent.revokedAt !== null) throw forbidden('AGENT_REVOKED', `this agent was revoked at ${agent.revokedAt}`);
    return agent;
  }

  /**
   * Health for the admin view: when the agent last polled, which policy revision it now holds and, if it
   * reported one, its backlog.
   */
  recordSeen(agent: AgentRecord, revision: number, backlog?: AgentBacklog): Promise<void> {
    return this.store.agents.touch(agent.id, this.clock.now().toISOString(), revision, backlog);
  }

  /** An event upload is a contact too: last seen moves, and the backlog the agent sent with it is kept. */
  recordUpload(agent: AgentRecord, backlog?: AgentBacklog): Promise<void> {
    return this.store.agents.touch(agent.id, this.clock.now().toISOString(), null, backlog);
  }

  async revoke(actor: string, agentId: string): Promise<void> {
    const agent = await this.store.agents.get(agentId);
    if (agent === null) throw notFound(`agent "${agentId}"`);
    await this.store.agents.revoke(agentId, this.clock.now().toISOString());
    await this.audit.record(actor, 'agent.revoke', agentId, { hostname: agent.hostname });
  }

  list(): Promise<AgentRecord[]> {
    return this.store.agents.list();
  }
}
