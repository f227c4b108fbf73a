import { signBundle, type BundlePayload, type SignedBundle } from '@exitseal/core/policy';
import { ServerError } from '../errors.js';
import type { AgentRecord, Store } from '../storage/store.js';
import type { Clock } from './clock.js';
import type { ServerIdentity } from './identity.js';
import type { ZoneService } from './zones.js';

/** Builds and signs each agent's policy bundle; the ETag lets an idle poll end without building anything. */
export class BundleService {
  constructor(
    private readonly store: Store,
    private readonly zones: ZoneService,
    private readonly identity: ServerIdentity,
    private readonly clock: Clock,
  ) {}

  /** Changes whenever the revision (zones, policies, keys, recovery recipient) or the agent's zone changes. */
  async etag(agent: AgentRecord): Promise<{ etag: string; revision: number }> {
    const revision = await this.store.settings.revision();
    return { etag: `"r${revision}-${agent.zoneId}"`, revision };
  }

  async build(agent: AgentRecord, revision: number): Promise<SignedBundle> {
    const entries = await this.zones.list();
    const home = entries.find((e) => e.zone.id === agent.zoneId);
    const fallback = entries.find((e) => e.zone.fallback);
    if (home === undefined || fallback === undefined) throw new ServerError(500, 'ZONE_TABLE_INCOMPLETE', `zone "${agent.zoneId}" or the fallback zone is missing`);
    const sealTo = await this.zones.currentKey(home.zone.id);
    const identities = await this.zones.identities(home.policy.openableOrigins);
    const recovery = await this.zones.recoveryRecipient();
    const payload: BundlePayload = {
      formatVersion: 1,
      revision,
      issuedAt: this.clock.now().toISOString(),
      agentId: agent.id,
      homeZoneId: home.zone.id,
      zones: entries.map((e) => e.zone),
      policies: [home, fallback].map((e) => ({ zoneId: e.zone.id, policy: e.policy })),
      sealTo: { zoneId: sealTo.zoneId, keyVersion: sealTo.version, recipient: sealTo.recipient },
      ...(recovery === null ? {} : { recoveryRecipient: recovery }),
      identities: identities.map((i) => ({ zoneId: i.zoneId, keyVersion: i.version, secret: i.identity.toSecretString() })),
    };
    return signBundle(payload, this.identity.signingKey);
  }
}
