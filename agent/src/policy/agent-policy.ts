import type { Identity, X25519Recipient } from '@exitseal/core';
import type { ChannelActionName, DeviceRule, LocalPolicy } from '../config/agent-config.js';

/**
 * The policy the agent enforces, in memory. It comes from the local section of the configuration file
 * (LocalPolicySource) or from the policy server's signed bundle, verified, cached and chosen by zone
 * detection (ServerPolicySource); nothing downstream knows which.
 */
export interface AgentPolicy {
  readonly source: 'local' | 'server';
  readonly version: string;
  /** The zone the PC acts in now (recorded in export events): its home zone, or the fallback zone. */
  readonly zoneId: string;
  /** How the zone was chosen: the network matched it, nothing matched, or the cached policy is too old. */
  readonly basis: 'configured' | 'network-match' | 'unknown-network' | 'offline-limit';
  /** The zone whose key seals files (the home zone of this PC), recorded in each sealed file. */
  readonly sealZoneId: string;
  readonly keyVersion: number;
  /** Sealed files go to these recipients: the zone key first, then any recovery key. */
  readonly sealRecipients: readonly X25519Recipient[];
  /** Zones whose sealed files this PC may open, with the identities that open them. */
  readonly openable: ReadonlyMap<string, readonly Identity[]>;
  readonly channels: { readonly removableMedia: ChannelActionName; readonly outboundFolders: ChannelActionName };
  /** What a device that the allow/deny lists refuse gets. */
  readonly deniedDeviceAction: 'block' | 'read-only';
  readonly devices: { readonly allow: readonly DeviceRule[]; readonly deny: readonly DeviceRule[] };
  readonly outboundFolders: readonly string[];
}

export interface PolicySource {
  /** The policy in force now. */
  current(): AgentPolicy;
  /** Called with each new policy; returns the unsubscribe function. */
  subscribe(listener: (policy: AgentPolicy) => void): () => void;
}

export function policyFromLocalConfig(local: LocalPolicy): AgentPolicy {
  return {
    source: 'local',
    version: local.version,
    zoneId: local.zoneId,
    basis: 'configured',
    sealZoneId: local.zoneId,
    keyVersion: local.keyVersion,
    sealRecipients: local.sealTo,
    openable: new Map(local.openable.map((zone) => [zone.zoneId, zone.identities])),
    channels: local.channels,
    deniedDeviceAction: local.deniedDeviceAction,
    devices: local.devices,
    outboundFolders: local.outboundFolders,
  };
}

/** The local policy never changes while the agent runs (a new file means a restart). */
export class LocalPolicySource implements PolicySource {
  private readonly policy: AgentPolicy;

  constructor(local: LocalPolicy) {
    this.policy = policyFromLocalConfig(local);
  }

  current(): AgentPolicy {
    return this.policy;
  }

  subscribe(_listener: (policy: AgentPolicy) => void): () => void {
    return () => undefined;
  }
}

/** What identifies a USB device for the allow/deny lists (all lower-case hex for the ids). */
export interface UsbIdentity {
  readonly vendorId?: string;
  readonly productId?: string;
  readonly serial?: string;
}

function ruleMatches(rule: DeviceRule, device: UsbIdentity): boolean {
  if (device.vendorId !== rule.vendorId) return false;
  if (rule.productId !== undefined && device.productId !== rule.productId) return false;
  if (rule.serial !== undefined && device.serial !== rule.serial) return false;
  return true;
}

export type DeviceDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/**
 * Deny wins over allow; a non-empty allow list admits only what it names. A device whose USB identity is
 * unknown (an SD card reader built into the PC, a loop device) can match no rule: it is refused whenever
 * an allow list exists.
 */
export function decideDevice(policy: Pick<AgentPolicy, 'devices'>, device: UsbIdentity): DeviceDecision {
  if (policy.devices.deny.some((rule) => ruleMatches(rule, device))) return { allowed: false, reason: 'device is on the deny list' };
  if (policy.devices.allow.length > 0 && !policy.devices.allow.some((rule) => ruleMatches(rule, device))) {
    return { allowed: false, reason: 'device is not on the allow list' };
  }
  return { allowed: true };
}
