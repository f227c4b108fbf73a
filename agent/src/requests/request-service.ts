import { open, stat } from 'node:fs/promises';
import { basename, isAbsolute } from 'node:path';
import { ExitSealError, inspect, MAX_HEADER_BYTES } from '@exitseal/core';
import { verifyReleaseToken, type VerifyKey } from '@exitseal/core/policy';
import type { RequestOutcome } from '@exitseal/core/wire';
import { openFile, writeRecipientCopyFromHeader } from '../files/sealed-file-io.js';
import { errorFields, type Logger } from '../logging/logger.js';
import type { UserNotifier } from '../sealing/notifier.js';
import type { PolicyServerApi } from '../server/policy-server-api.js';
import { ThrottledErrorLog } from '../server/retry.js';
import type { EventOutbox } from '../storage/event-outbox.js';
import type { RequestStore, StoredRequest } from '../storage/request-store.js';
import type { AgentDatabase } from '../storage/database.js';
import { ApprovedFileKey } from './approved-file-key.js';
import { hashFile } from './release-gate.js';

/** A request the caller got wrong (a path that is not theirs, not sealed...): told to the tray app as is. */
export class RequestRefused extends ExitSealError {
  constructor(code: string, message: string) {
    super(code, message, { kind: 'client' });
    this.name = 'RequestRefused';
  }
}

/** Who asks, as the local API established it (the socket they could connect to). */
export interface Caller {
  readonly osUser: string;
  /** The caller's uid where the OS has one: files they name must be theirs. */
  readonly uid?: number;
}

export interface RequestServiceDependencies {
  readonly api: Pick<PolicyServerApi, 'createDecryptRequest' | 'createReleaseRequest' | 'requestOutcome'>;
  readonly db: AgentDatabase;
  readonly store: RequestStore;
  readonly outbox: EventOutbox;
  readonly verifyKey: VerifyKey;
  readonly agentId: string;
  readonly host: string;
  readonly zoneId: () => string;
  readonly notifier: UserNotifier;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly now?: () => Date;
}

/**
 * Decrypt and plaintext-release requests: sent to the server for the person at the PC, then followed until
 * decided. An approved release brings a signed token (verified before it is kept) that lets exactly that
 * file leave in plaintext; an approved decrypt for this PC brings the file key of exactly that file, which
 * opens it in place.
 */
export class RequestService {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private round: Promise<void> | undefined;
  private readonly errors: ThrottledErrorLog;
  private readonly now: () => Date;

  constructor(private readonly deps: RequestServiceDependencies) {
    this.errors = new ThrottledErrorLog(deps.logger, 'following requests failed');
    this.now = deps.now ?? (() => new Date());
  }

  async submitRelease(caller: Caller, path: string, reason: string, destination: string): Promise<StoredRequest> {
    await this.checkOwnFile(caller, path);
    const { sha256, size } = await hashFile(path);
    const fileName = basename(path);
    const created = await this.deps.api.createReleaseRequest({ fileName, size, sha256, reason, destination, osUser: caller.osUser });
    this.deps.store.addRequest({ id: created.id, kind: 'release', osUser: caller.osUser, fileName, path, sha256, reason, status: created.status });
    this.deps.logger.info('release requested', { request: created.id, fileName, sha256, osUser: caller.osUser });
    this.schedule(0);
    return this.mine(caller, created.id);
  }

  async submitDecrypt(caller: Caller, path: string, reason: string, purpose: 'this-pc' | 'outside-recipient'): Promise<StoredRequest> {
    await this.checkOwnFile(caller, path);
    const header = await this.headerOf(path);
    const fileName = basename(path);
    const created = await this.deps.api.createDecryptRequest({ header: header.toString('base64'), fileName, reason, purpose, osUser: caller.osUser });
    this.deps.store.addRequest({ id: created.id, kind: 'decrypt', osUser: caller.osUser, fileName, path, sha256: null, reason, status: created.status });
    this.deps.logger.info('decrypt requested', { request: created.id, fileName, purpose, osUser: caller.osUser });
    this.schedule(0);
    return this.mine(caller, created.id);
  }

  start(): void {
    this.running = true;
    this.schedule(this.deps.pollMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.round;
  }

  /** One pass over the pending requests (also what the timer runs). */
  async followPending(): Promise<void> {
    for (const request of this.deps.store.pending()) {
      let outcome: RequestOutcome;
      try {
        outcome = await this.deps.api.requestOutcome(request.id);
      } catch (error) {
        this.errors.failed(error);
        return;
      }
      this.errors.recovered();
      if (outcome.status === 'pending') continue;
      try {
        await this.apply(request, outcome);
      } catch (error) {
        this.deps.logger.error('could not apply a decided request', { request: request.id, ...errorFields(error) });
      }
      this.deps.store.setStatus(request.id, outcome.status, outcome.decisionReason);
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running || this.round) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.round = this.followPending().finally(() => {
        this.round = undefined;
        this.schedule(this.deps.pollMs);
      });
    }, delayMs);
  }

  private async apply(request: StoredRequest, outcome: RequestOutcome): Promise<void> {
    const { notifier } = this.deps;
    if (outcome.status === 'denied') {
      notifier.notify('request-decided', `${request.fileName}: your ${request.kind} request was denied${outcome.decisionReason ? ` (${outcome.decisionReason})` : ''}`, [request.path], request.osUser);
      return;
    }
    if (request.kind === 'release' && outcome.releaseToken !== undefined) {
      const payload = verifyReleaseToken(outcome.releaseToken, this.deps.verifyKey, { agentId: this.deps.agentId, osUser: request.osUser, sha256: request.sha256 ?? '', now: this.now() });
      this.deps.store.addReleaseToken({ requestId: request.id, osUser: request.osUser, sha256: payload.sha256, fileName: payload.fileName, token: outcome.releaseToken, expiresAt: payload.expiresAt });
      notifier.notify('request-decided', `${request.fileName} may now be copied in plaintext until ${payload.expiresAt}`, [request.path], request.osUser);
      return;
    }
    if (request.kind === 'decrypt' && outcome.fileKey !== undefined) {
      const result = await openFile(request.path, { outputPath: request.path }, [new ApprovedFileKey(Buffer.from(outcome.fileKey, 'base64'))]);
      this.deps.db.transaction(() => {
        this.deps.store.forgetLocked(request.path);
        this.logApprovedDecrypt(request, {
          mediaPath: request.path,
          size: result.plaintextBytes,
          sha256: result.sha256 ?? undefined,
          meta: result.inspection.meta,
          reason: `decrypt request ${request.id} approved`,
        });
      });
      notifier.notify('opened', `${request.fileName} was opened after your request was approved`, [request.path], request.osUser);
      return;
    }
    if (request.kind === 'decrypt' && outcome.recipientHeader !== undefined && outcome.passphrase !== undefined) {
      await this.writeRecipientCopy(request, Buffer.from(outcome.recipientHeader, 'base64'), outcome.passphrase);
      return;
    }
    notifier.notify('request-decided', `${request.fileName}: your ${request.kind} request was approved; see the approval mail for what to do next`, [request.path], request.osUser);
  }

  /**
   * An approved decrypt for an outside recipient: a copy beside the sealed file ("name.ext.age", or
   * "name.ext (2).age" if that is taken) that any age tool opens with the passphrase. The passphrase is
   * kept for the requester's eyes only (local API, their own requests); it never reaches the log.
   */
  private async writeRecipientCopy(request: StoredRequest, recipientHeader: Buffer, passphrase: string): Promise<void> {
    let outputPath = `${request.path}.age`;
    for (let n = 2; await stat(outputPath).then(() => true, () => false); n++) outputPath = `${request.path} (${n}).age`;
    const inspection = await writeRecipientCopyFromHeader(request.path, { outputPath }, recipientHeader, passphrase);
    const size = (await stat(outputPath)).size;
    this.deps.db.transaction(() => {
      this.deps.store.setRecipientCopy(request.id, outputPath, passphrase);
      this.logApprovedDecrypt(request, {
        mediaPath: outputPath,
        size,
        meta: inspection.meta,
        reason: `decrypt request ${request.id} approved for an outside recipient: passphrase copy written`,
      });
    });
    this.deps.logger.info('outside-recipient copy written', { request: request.id, copy: outputPath });
    this.deps.notifier.notify('request-decided', `${request.fileName}: a copy for the outside recipient is at ${outputPath}; its passphrase is in your requests list (send it separately)`, [outputPath], request.osUser);
  }

  /** The export-log event of an approved decrypt (opened here, or copied for an outside recipient). */
  private logApprovedDecrypt(
    request: StoredRequest,
    what: { mediaPath: string; size: number; sha256?: string; meta: { fileId: string; keyVersion: number } | undefined | null; reason: string },
  ): void {
    this.deps.outbox.append({
      host: this.deps.host,
      osUser: request.osUser,
      zoneId: this.deps.zoneId(),
      channel: 'removableMedia',
      fileName: request.fileName,
      mediaPath: what.mediaPath.slice(0, 4096),
      size: what.size,
      sha256: what.sha256,
      fileId: what.meta?.fileId,
      keyVersion: what.meta?.keyVersion,
      action: 'decrypt-approved',
      reason: what.reason,
    });
  }

  private mine(caller: Caller, id: string): StoredRequest {
    const found = this.deps.store.requestsFor(caller.osUser).find((request) => request.id === id);
    if (!found) throw new ExitSealError('REQUEST_LOST', `request ${id} was not recorded`, { kind: 'fault' });
    return found;
  }

  private async checkOwnFile(caller: Caller, path: string): Promise<void> {
    if (!isAbsolute(path)) throw new RequestRefused('PATH_INVALID', 'give the absolute path of the file');
    const stats = await stat(path).catch(() => undefined);
    if (!stats?.isFile()) throw new RequestRefused('FILE_NOT_FOUND', `${path} is not a file`);
    if (caller.uid !== undefined && caller.uid !== 0 && stats.uid !== caller.uid) throw new RequestRefused('NOT_YOUR_FILE', `${path} does not belong to ${caller.osUser}`);
  }

  private async headerOf(path: string): Promise<Buffer> {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(MAX_HEADER_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      const size = (await handle.stat()).size;
      const inspection = inspect(buffer.subarray(0, bytesRead), bytesRead === size);
      if (inspection.kind === 'plaintext') throw new RequestRefused('NOT_SEALED', `${path} is not sealed`);
      return Buffer.from(buffer.subarray(0, inspection.headerLength));
    } finally {
      await handle.close();
    }
  }
}
