// Shapes of the policy server's JSON, as the console reads them.
import type { Role } from './api';

export interface EventRow {
  readonly seq: number;
  readonly eventId: string;
  readonly agentId: string;
  readonly receivedAt: string;
  readonly occurredAt: string;
  readonly host: string;
  readonly osUser: string;
  readonly zoneId: string;
  readonly channel: string;
  readonly deviceVendorId: string | null;
  readonly deviceProductId: string | null;
  readonly deviceSerial: string | null;
  readonly deviceLabel: string | null;
  readonly deviceMount: string | null;
  readonly fileName: string;
  readonly mediaPath: string | null;
  readonly size: number;
  readonly sha256: string | null;
  readonly fileId: string | null;
  readonly keyVersion: number | null;
  readonly action: string;
  readonly reason: string | null;
  readonly agentPrevHash: string;
  readonly agentHash: string;
  readonly agentChainOk: boolean;
}

export interface EventPage {
  readonly events: EventRow[];
  readonly nextCursor?: number;
  readonly nextAfter?: string;
}

export type LinkCheck = 'ok' | 'broken' | 'missing' | 'none';

export interface EventDetail {
  readonly event: EventRow;
  readonly chain: { readonly row: LinkCheck; readonly next: LinkCheck; readonly agentChainOk: boolean };
}

export interface ChainReport {
  readonly log: string;
  readonly ok: boolean;
  readonly rowsChecked: number;
  readonly problems: readonly { seq: number; problem: string }[];
}

export interface Decision {
  readonly step: number;
  readonly username: string;
  readonly role: Role;
  readonly decision: 'approve' | 'deny';
  readonly reason: string;
  readonly at: string;
}

export interface RequestView {
  readonly id: string;
  readonly kind: 'decrypt' | 'release';
  readonly status: 'pending' | 'approved' | 'denied';
  readonly agentId: string;
  readonly osUser: string;
  readonly fileName: string;
  readonly reason: string;
  readonly policyZoneId: string;
  readonly createdAt: string;
  readonly detail: Record<string, unknown>;
  readonly steps: readonly Role[];
  readonly decisions: readonly Decision[];
}

export interface Ranked {
  readonly key: string;
  readonly count: number;
}

export interface Dashboard {
  readonly generatedAt: string;
  readonly days: readonly { day: string; byAction: Record<string, number>; byZone: Record<string, number> }[];
  readonly topUsers: readonly Ranked[];
  readonly topDevices: readonly Ranked[];
  readonly agents: { readonly online: number; readonly offline: number; readonly revoked: number };
  readonly pendingRequests: number;
  readonly eventsInWindow: number;
}

export interface AgentStatus {
  readonly id: string;
  readonly hostname: string;
  readonly zoneId: string;
  readonly osName: string;
  readonly agentVersion: string;
  readonly enrolledAt: string;
  readonly revokedAt: string | null;
  readonly lastSeenAt: string | null;
  readonly lastBundleRevision: number | null;
  readonly online: boolean;
  readonly policyCurrent: boolean;
  /** What the agent last reported it has not finished, and when; null if it never reported. */
  readonly backlog: { readonly outboxEvents: number; readonly pendingJobs: number; readonly quarantinedFiles: number; readonly reportedAt: string } | null;
  readonly backlogLarge: boolean;
  readonly backlogStale: boolean;
}

export interface DeviceRule {
  vendorId: string;
  productId?: string;
  serial?: string;
}

export interface ZoneWithPolicy {
  zone: {
    id: string;
    name: string;
    priority: number;
    fallback: boolean;
    detection: { cidrs: string[]; dnsSuffixes: string[]; gateways: string[] };
  };
  policy: {
    channels: { removableMedia: string; outboundFolders: string; mail: string };
    openableOrigins: string[];
    devices: { allow: DeviceRule[]; deny: DeviceRule[] };
    offline: { maxHours: number; after: string };
    approvals: { decrypt: { steps: string[] }; release: { steps: string[] } };
  };
}

export interface ZoneKey {
  readonly zoneId: string;
  readonly version: number;
  readonly recipient: string;
  readonly createdAt: string;
}

export interface ZonesResponse {
  readonly zones: ZoneWithPolicy[];
  readonly keys: ZoneKey[];
  readonly recoveryRecipient: string | null;
}

export interface AuditRow {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail: string;
}
