import { X25519Identity, X25519Recipient, type Identity } from '@exitseal/core';
import { detectZone, type BundlePayload, type NetworkFacts, type ZonePolicy } from '@exitseal/core/policy';
import type { ChannelActionName } from '../config/agent-config.js';
import type { AgentPolicy } from './agent-policy.js';

/** What the agent knows about its link with the server, for the offline limit. */
export interface ContactState {
  /** The last time the server answered a policy poll (200 or 304); undefined if never. */
  readonly lastContactAt: Date | undefined;
  /** Whether the latest poll reached the server. */
  readonly online: boolean;
}

/**
 * Turns a verified bundle, the PC's network and the server contact into the policy in force (pure):
 *  - the zone table decides where the PC is; the home zone's policy applies when the PC is in its home
 *    zone, the fallback zone's policy otherwise (the bundle carries no other zone's policy: a PC carried into
 *    another network is treated as on an unknown network);
 *  - when the server has not been reached for longer than that policy's offline limit, the strict fallback
 *    applies: the fallback zone, nothing opens, every channel seals or blocks as the limit says;
 *  - files are always sealed to the home zone's current key (the one key the bundle gives for sealing);
 *  - the outbound folders are this PC's (configuration); the zone policy says what happens in them.
 */
export function policyFromBundle(bundle: BundlePayload, facts: NetworkFacts, contact: ContactState, now: Date, outboundFolders: readonly string[] = []): AgentPolicy {
  const policyOf = (zoneId: string): ZonePolicy | undefined => bundle.policies.find((entry) => entry.zoneId === zoneId)?.policy;
  const fallbackZone = bundle.zones.find((zone) => zone.fallback);
  const fallbackPolicy = fallbackZone ? policyOf(fallbackZone.id) : undefined;
  if (!fallbackZone || !fallbackPolicy) throw new RangeError('the bundle has no fallback zone policy');
  const match = detectZone(bundle.zones, facts);
  const atHome = match.zone.id === bundle.homeZoneId && policyOf(bundle.homeZoneId) !== undefined;
  let zoneId = atHome ? bundle.homeZoneId : fallbackZone.id;
  let policy = (atHome ? policyOf(bundle.homeZoneId) : undefined) ?? fallbackPolicy;
  let basis: AgentPolicy['basis'] = atHome ? 'network-match' : 'unknown-network';
  let channels: { removableMedia: ChannelActionName; outboundFolders: ChannelActionName } = { removableMedia: policy.channels.removableMedia, outboundFolders: policy.channels.outboundFolders };

  const limitMs = policy.offline.maxHours * 3_600_000;
  const lastContact = contact.lastContactAt?.getTime();
  if (!contact.online && (lastContact === undefined || now.getTime() - lastContact > limitMs)) {
    const forced: ChannelActionName = policy.offline.after === 'block-everything' ? 'block' : 'seal';
    zoneId = fallbackZone.id;
    policy = fallbackPolicy;
    basis = 'offline-limit';
    channels = { removableMedia: forced, outboundFolders: forced };
  }

  const openable = new Map<string, Identity[]>();
  for (const origin of basis === 'offline-limit' ? [] : policy.openableOrigins) {
    const identities = bundle.identities.filter((entry) => entry.zoneId === origin).map((entry) => X25519Identity.parse(entry.secret));
    if (identities.length > 0) openable.set(origin, identities);
  }
  const sealRecipients = [X25519Recipient.parse(bundle.sealTo.recipient)];
  if (bundle.recoveryRecipient !== undefined) sealRecipients.push(X25519Recipient.parse(bundle.recoveryRecipient));
  return {
    source: 'server',
    version: `r${bundle.revision}`,
    zoneId,
    basis,
    sealZoneId: bundle.sealTo.zoneId,
    keyVersion: bundle.sealTo.keyVersion,
    sealRecipients,
    openable,
    channels,
    // The zone policy has no "read-only" choice for refused devices yet: they are blocked.
    deniedDeviceAction: 'block',
    devices: policy.devices,
    outboundFolders,
  };
}

/** A short text that changes whenever the policy's behaviour would: listeners are told only then. */
export function policyFingerprint(policy: AgentPolicy): string {
  return JSON.stringify([
    policy.version,
    policy.zoneId,
    policy.basis,
    policy.sealZoneId,
    policy.keyVersion,
    policy.sealRecipients.map(String),
    [...policy.openable.keys()].sort(),
    policy.channels,
    policy.deniedDeviceAction,
    policy.devices,
    policy.outboundFolders,
  ]);
}
