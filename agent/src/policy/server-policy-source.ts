import type { BundlePayload, NetworkFacts } from '@exitseal/core/policy';
import { ExitSealError } from '@exitseal/core';
import type { Logger } from '../logging/logger.js';
import type { AgentPolicy, PolicySource } from './agent-policy.js';
import { policyFromBundle, policyFingerprint, type ContactState } from './bundle-policy.js';
import type { BundleReceiver } from './policy-sync.js';

/**
 * The policy in force when the agent is enrolled: the latest verified bundle, evaluated against the PC's
 * network and the time since the server last answered. It is re-evaluated when any of the three changes
 * (and on every network poll, since the offline limit is a matter of time); listeners hear of it only when
 * the resulting behaviour changes.
 */
export class ServerPolicySource implements PolicySource, BundleReceiver {
  readonly name = 'zone detection';
  private bundle: BundlePayload | undefined;
  private facts: NetworkFacts = { addresses: [], dnsSuffixes: [], gateways: [] };
  private contact: ContactState = { lastContactAt: undefined, online: false };
  private policy: AgentPolicy | undefined;
  private fingerprint = '';
  private readonly listeners = new Set<(policy: AgentPolicy) => void>();

  constructor(
    private readonly outboundFolders: readonly string[],
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  bundleChanged(bundle: BundlePayload): void {
    this.bundle = bundle;
    this.evaluate();
  }

  networkChanged(facts: NetworkFacts): void {
    this.facts = facts;
    this.evaluate();
  }

  contactChanged(contact: ContactState): void {
    this.contact = contact;
    this.evaluate();
  }

  /** Time passed: the offline limit may have been crossed. */
  tick(): void {
    this.evaluate();
  }

  hasPolicy(): boolean {
    return this.policy !== undefined;
  }

  network(): NetworkFacts {
    return this.facts;
  }

  current(): AgentPolicy {
    if (!this.policy) throw new ExitSealError('POLICY_MISSING', 'no policy yet: the agent has neither a cached bundle nor an answer from the server', { kind: 'fault' });
    return this.policy;
  }

  subscribe(listener: (policy: AgentPolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private evaluate(): void {
    if (!this.bundle) return;
    const next = policyFromBundle(this.bundle, this.facts, this.contact, this.now(), this.outboundFolders);
    const fingerprint = policyFingerprint(next);
    if (fingerprint === this.fingerprint) return;
    const previous = this.policy;
    this.policy = next;
    this.fingerprint = fingerprint;
    this.logger.info('policy in force', {
      version: next.version,
      zone: next.zoneId,
      basis: next.basis,
      previousZone: previous?.zoneId,
      channels: next.channels,
      openable: [...next.openable.keys()],
      online: this.contact.online,
      lastContactAt: this.contact.lastContactAt?.toISOString(),
    });
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (error) {
        this.logger.error('a policy listener failed', { error: error instanceof Error ? error.message : String(error) });
      }
    }
  }
}
