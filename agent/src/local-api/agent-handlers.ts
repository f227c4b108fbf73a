import { ExitSealError } from '@exitseal/core';
import type { PolicySource } from '../policy/agent-policy.js';
import type { PolicySync } from '../policy/policy-sync.js';
import type { RequestService } from '../requests/request-service.js';
import type { UserNotifier } from '../sealing/notifier.js';
import type { EventOutbox } from '../storage/event-outbox.js';
import type { RequestStore } from '../storage/request-store.js';
import type { LocalApiHandlers } from './local-api-server.js';

export interface HandlerDependencies {
  readonly policy: PolicySource;
  readonly outbox: EventOutbox;
  readonly store: RequestStore;
  readonly notifier: UserNotifier;
  /** Absent without a policy server: requests cannot be sent then. */
  readonly requests?: RequestService;
  readonly sync?: PolicySync;
  readonly watchedRoots: () => string[];
}

function noServer(): never {
  throw new ExitSealError('NO_POLICY_SERVER', 'this agent is not enrolled with a policy server: requests cannot be sent', { kind: 'client' });
}

/** What each local API method does, always on behalf of the caller the socket established, and only with their data. */
export function agentHandlers(deps: HandlerDependencies): LocalApiHandlers {
  return {
    status: () => {
      const policy = deps.policy.current();
      const contact = deps.sync?.status();
      const state = policy.basis === 'offline-limit' ? 'not-protected' : contact && !contact.online ? 'offline' : 'protected';
      return {
        state,
        zone: policy.zoneId,
        zoneBasis: policy.basis,
        policySource: policy.source,
        policyVersion: policy.version,
        channels: policy.channels,
        online: contact?.online ?? null,
        lastContactAt: contact?.lastContactAt ?? null,
        pendingUploads: deps.outbox.pendingCount(),
        watching: deps.watchedRoots(),
      };
    },
    recentEvents: (caller, params) =>
      deps.outbox
        .recent(2000)
        .map((stored) => stored.event)
        .filter((event) => event.osUser === caller.osUser)
        .slice(0, params.limit ?? 50)
        .map(({ prevHash: _prev, hash: _hash, ...event }) => event),
    myRequests: (caller) => deps.store.requestsFor(caller.osUser),
    lockedFiles: (caller) => deps.store.lockedFor(caller.osUser),
    submitDecrypt: (caller, params) => (deps.requests ?? noServer()).submitDecrypt(caller, params.path, params.reason, params.purpose),
    submitRelease: (caller, params) => (deps.requests ?? noServer()).submitRelease(caller, params.path, params.reason, params.destination),
    subscribe: (caller, send) =>
      deps.notifier.subscribe((notice) => {
        if (notice.osUser === undefined || notice.osUser === caller.osUser) send(notice);
      }),
  };
}
