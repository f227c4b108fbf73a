import { verifyBundle, type BundlePayload, type VerifyKey } from '@exitseal/core/policy';
import { errorFields, type Logger } from '../logging/logger.js';
import type { PolicyServerApi } from '../server/policy-server-api.js';
import { isRetryable } from '../server/policy-server-api.js';
import { Backoff, ThrottledErrorLog } from '../server/retry.js';
import type { BundleCache } from './bundle-cache.js';
import type { ContactState } from './bundle-policy.js';

/** Something that acts on a new verified bundle (zone detection, the inbound opener...). */
export interface BundleReceiver {
  readonly name: string;
  bundleChanged(bundle: BundlePayload): void | Promise<void>;
}

export interface PolicySyncDependencies {
  readonly api: Pick<PolicyServerApi, 'bundle'>;
  /** The bundle signing key pinned at enrolment. */
  readonly verifyKey: VerifyKey;
  readonly cache: BundleCache;
  readonly receivers: readonly BundleReceiver[];
  /** Told after every poll whether the server answered, for the offline limit and the tray's status. */
  readonly contactChanged: (contact: ContactState) => void;
  readonly logger: Logger;
  readonly pollMs: number;
  readonly retryMaxMs: number;
  readonly now?: () => Date;
}

export type PollResult = 'changed' | 'unchanged' | 'failed';

/**
 * Keeps the agent's policy in step with the server, as Fleet's orbit does: a conditional GET with the last
 * ETag on a timer (an idle poll is one empty 304), signature verification with the pinned key before
 * anything is used or cached, the last good bundle on disk, and a fan-out to receivers in which one failing
 * receiver never keeps the others from the new policy. Network errors and server faults are retried with
 * backoff; a refusal (revoked agent, bad signature) waits for the normal interval.
 */
export class PolicySync {
  private etag: string | undefined;
  private revision: number | undefined;
  private lastContactAt: Date | undefined;
  private online = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private polling: Promise<PollResult> | undefined;
  private readonly backoff: Backoff;
  private readonly errors: ThrottledErrorLog;
  private readonly now: () => Date;

  constructor(private readonly deps: PolicySyncDependencies) {
    this.backoff = new Backoff(1000, deps.retryMaxMs);
    this.errors = new ThrottledErrorLog(deps.logger, 'policy fetch failed');
    this.now = deps.now ?? (() => new Date());
  }

  /** Verifies and delivers the cached bundle; false when there is none (or it no longer verifies). */
  async loadCached(): Promise<boolean> {
    const cached = await this.deps.cache.load();
    if (!cached) return false;
    let payload: BundlePayload;
    try {
      payload = verifyBundle(cached.signedBundle, this.deps.verifyKey);
    } catch (error) {
      this.deps.logger.error('the cached policy does not verify: ignored', errorFields(error));
      return false;
    }
    this.etag = cached.etag;
    this.lastContactAt = cached.lastContactAt === undefined ? undefined : new Date(cached.lastContactAt);
    this.deps.contactChanged({ lastContactAt: this.lastContactAt, online: false });
    await this.deliver(payload);
    this.deps.logger.info('policy loaded from cache', { revision: payload.revision, lastContactAt: cached.lastContactAt });
    return true;
  }

  /** One poll now (callers may await the first before starting the rest of the agent). */
  pollOnce(): Promise<PollResult> {
    this.polling ??= this.poll().finally(() => (this.polling = undefined));
    return this.polling;
  }

  start(firstDelayMs = this.deps.pollMs): void {
    this.running = true;
    this.schedule(firstDelayMs);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }

  status(): { readonly online: boolean; readonly lastContactAt: string | undefined; readonly revision: number | undefined } {
    return { online: this.online, lastContactAt: this.lastContactAt?.toISOString(), revision: this.revision };
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.pollOnce().then((result) => this.schedule(result === 'failed' && this.lastFailureRetryable ? this.backoff.nextDelayMs() : this.deps.pollMs));
    }, delayMs);
  }

  private lastFailureRetryable = false;

  private async poll(): Promise<PollResult> {
    let answer;
    try {
      answer = await this.deps.api.bundle(this.etag);
    } catch (error) {
      this.lastFailureRetryable = isRetryable(error);
      this.errors.failed(error, { retrying: this.lastFailureRetryable });
      this.setContact(false);
      return 'failed';
    }
    this.backoff.reset();
    this.errors.recovered();
    if (!answer.changed) {
      this.setContact(true);
      await this.saveContact();
      return 'unchanged';
    }
    let payload: BundlePayload;
    try {
      payload = verifyBundle(answer.signedBundle, this.deps.verifyKey);
    } catch (error) {
      // Not from our server (or damaged): keep the policy we have, and do not count it as contact.
      this.lastFailureRetryable = false;
      this.deps.logger.error('the server sent a policy that does not verify: kept the previous one', errorFields(error));
      this.setContact(false);
      return 'failed';
    }
    this.etag = answer.etag;
    this.setContact(true);
    await this.deps.cache.save({ etag: answer.etag, signedBundle: answer.signedBundle, lastContactAt: this.lastContactAt?.toISOString() }).catch((error: unknown) => {
      this.deps.logger.error('could not cache the policy (the agent keeps it in memory)', errorFields(error));
    });
    await this.deliver(payload);
    this.deps.logger.info('policy updated', { revision: payload.revision, zone: payload.homeZoneId, keyVersion: payload.sealTo.keyVersion });
    return 'changed';
  }

  private setContact(online: boolean): void {
    this.online = online;
    if (online) this.lastContactAt = this.now();
    this.deps.contactChanged({ lastContactAt: this.lastContactAt, online });
  }

  /** The time of contact survives a restart, so the offline limit counts from the real last contact. */
  private async saveContact(): Promise<void> {
    const cached = await this.deps.cache.load();
    if (!cached) return;
    await this.deps.cache.save({ ...cached, lastContactAt: this.lastContactAt?.toISOString() }).catch((error: unknown) => {
      this.deps.logger.warn('could not record the time of contact', errorFields(error));
    });
  }

  private async deliver(payload: BundlePayload): Promise<void> {
    this.revision = payload.revision;
    for (const receiver of this.deps.receivers) {
      try {
        await receiver.bundleChanged(payload);
      } catch (error) {
        this.deps.logger.error('a policy receiver failed; the others still got the policy', { receiver: receiver.name, ...errorFields(error) });
      }
    }
  }
}
