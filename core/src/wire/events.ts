import { createHash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { canonicalJson } from '../policy/canonical.js';
import { ChannelSchema, TimestampSchema, ZoneIdSchema } from '../policy/model.js';
import { AgentBacklogSchema } from './backlog.js';

export const EXPORT_ACTIONS = [
  'sealed',
  'released-plaintext',
  'allowed-plaintext',
  'blocked',
  'failed',
  'quarantined',
  'opened-on-import',
  'decrypt-approved',
  'plaintext-window-exceeded',
] as const;
export type ExportAction = (typeof EXPORT_ACTIONS)[number];

const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const Text = (maxLength: number) => Type.String({ maxLength });

export const DeviceSchema = Type.Object(
  {
    vendorId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{4}$' })),
    productId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{4}$' })),
    serial: Type.Optional(Text(128)),
    label: Type.Optional(Text(128)),
    mount: Type.Optional(Text(1024)),
  },
  { additionalProperties: false },
);

/**
 * One export-log event as the agent records it. `hash` chains the agent's own log: sha256 over the previous
 * event's hash, a newline and the canonical JSON of this event without `hash` (see computeEventHash). The
 * first event of an agent uses GENESIS_HASH as `prevHash`.
 */
export const ExportEventSchema = Type.Object(
  {
    eventId: Uuid,
    occurredAt: TimestampSchema,
    host: Type.String({ minLength: 1, maxLength: 255 }),
    osUser: Type.String({ minLength: 1, maxLength: 256 }),
    zoneId: ZoneIdSchema,
    channel: ChannelSchema,
    device: Type.Optional(DeviceSchema),
    fileName: Type.String({ minLength: 1, maxLength: 1024 }),
    mediaPath: Type.Optional(Text(4096)),
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    sha256: Type.Optional(Sha256Hex),
    fileId: Type.Optional(Uuid),
    keyVersion: Type.Optional(Type.Integer({ minimum: 1, maximum: 999_999_999 })),
    action: Type.Union(EXPORT_ACTIONS.map((a) => Type.Literal(a))),
    reason: Type.Optional(Text(2048)),
    prevHash: Sha256Hex,
    hash: Sha256Hex,
  },
  { additionalProperties: false },
);
export type ExportEvent = Static<typeof ExportEventSchema>;

export const MAX_EVENTS_PER_BATCH = 1000;

export const EventBatchSchema = Type.Object(
  {
    events: Type.Array(ExportEventSchema, { minItems: 1, maxItems: MAX_EVENTS_PER_BATCH }),
    /** The agent's backlog once this batch is stored (optional: older agents do not send it). */
    backlog: Type.Optional(AgentBacklogSchema),
  },
  { additionalProperties: false },
);
export type EventBatch = Static<typeof EventBatchSchema>;

export const EventBatchResultSchema = Type.Object({
  accepted: Type.Integer({ description: 'events stored now' }),
  duplicates: Type.Integer({ description: 'events already stored (a resent batch): ignored' }),
});
export type EventBatchResult = Static<typeof EventBatchResultSchema>;

export const GENESIS_HASH = '0'.repeat(64);

export function computeEventHash(event: Omit<ExportEvent, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = event;
  return createHash('sha256').update(`${event.prevHash}\n${canonicalJson(rest)}`, 'utf8').digest('hex');
}

/** Fills in `prevHash` and `hash` for the next event of an agent's chain. */
export function chainEvent(previousHash: string, event: Omit<ExportEvent, 'hash' | 'prevHash'>): ExportEvent {
  const withPrev = { ...event, prevHash: previousHash };
  return { ...withPrev, hash: computeEventHash(withPrev) };
}
