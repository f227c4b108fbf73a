import { Type, type Static } from '@sinclair/typebox';

/**
 * The policy model: zones (networks) with the rules an agent evaluates offline to know where it is, and
 * per zone what each export channel does, which zones' files may be opened there, which USB devices are
 * allowed, how long the agent may run on a cached policy, and who approves releases and decryptions.
 * Schemas are TypeBox, so the same objects validate input, type the code and document the API.
 */

export const ZoneIdSchema = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'lower-case zone id, e.g. "mynumber"' });

export const CHANNELS = ['removableMedia', 'outboundFolders', 'mail'] as const;
export type Channel = (typeof CHANNELS)[number];
export const ChannelSchema = Type.Union(CHANNELS.map((c) => Type.Literal(c)));

export const CHANNEL_ACTIONS = ['seal', 'block', 'allow', 'read-only'] as const;
export type ChannelAction = (typeof CHANNEL_ACTIONS)[number];
export const ChannelActionSchema = Type.Union(CHANNEL_ACTIONS.map((a) => Type.Literal(a)));

export const APPROVER_ROLES = ['approver', 'admin'] as const;
export type ApproverRole = (typeof APPROVER_ROLES)[number];

export const ZoneDetectionSchema = Type.Object(
  {
    cidrs: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256, description: 'the PC has an address in one of these ranges' }),
    dnsSuffixes: Type.Array(Type.String({ maxLength: 253 }), { maxItems: 64, description: 'the PC has one of these DNS suffixes' }),
    gateways: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64, description: 'the PC has one of these default gateways' }),
  },
  { additionalProperties: false, description: 'Every non-empty list must match (a zone is only recognised when all its kinds of evidence agree).' },
);
export type ZoneDetection = Static<typeof ZoneDetectionSchema>;

export const ZoneSchema = Type.Object(
  {
    id: ZoneIdSchema,
    name: Type.String({ minLength: 1, maxLength: 100 }),
    priority: Type.Integer({ minimum: 1, maximum: 10000, description: 'zones are tried in ascending priority; 1 first' }),
    fallback: Type.Boolean({ description: 'the "unknown network" zone: chosen when no other zone matches; has no detection rules' }),
    detection: ZoneDetectionSchema,
  },
  { additionalProperties: false },
);
export type Zone = Static<typeof ZoneSchema>;

const HEX4 = '^[0-9a-f]{4}$';
export const DeviceRuleSchema = Type.Object(
  {
    vendorId: Type.String({ pattern: HEX4, description: 'USB vendor id, 4 lower-case hex digits' }),
    productId: Type.Optional(Type.String({ pattern: HEX4 })),
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);
export type DeviceRule = Static<typeof DeviceRuleSchema>;

export const ApprovalChainSchema = Type.Object(
  {
    steps: Type.Array(Type.Union(APPROVER_ROLES.map((r) => Type.Literal(r))), { minItems: 1, maxItems: 2, description: 'the role that decides each step, in order' }),
  },
  { additionalProperties: false },
);
export type ApprovalChain = Static<typeof ApprovalChainSchema>;

export const OFFLINE_ACTIONS = ['seal-everything', 'block-everything'] as const;

export const ZonePolicySchema = Type.Object(
  {
    channels: Type.Object(
      { removableMedia: ChannelActionSchema, outboundFolders: ChannelActionSchema, mail: ChannelActionSchema },
      { additionalProperties: false },
    ),
    openableOrigins: Type.Array(ZoneIdSchema, { maxItems: 256, description: "zones whose sealed files may be opened in this zone (the matrix row)" }),
    devices: Type.Object(
      {
        allow: Type.Array(DeviceRuleSchema, { maxItems: 1000, description: 'if not empty, only these devices may be used' }),
        deny: Type.Array(DeviceRuleSchema, { maxItems: 1000, description: 'never these devices (deny wins over allow)' }),
      },
      { additionalProperties: false },
    ),
    offline: Type.Object(
      {
        maxHours: Type.Integer({ minimum: 0, maximum: 8760, description: 'how long the cached policy stays in force without reaching the server' }),
        after: Type.Union(OFFLINE_ACTIONS.map((a) => Type.Literal(a)), { description: 'what every channel does once the cached policy is too old' }),
      },
      { additionalProperties: false },
    ),
    approvals: Type.Object({ decrypt: ApprovalChainSchema, release: ApprovalChainSchema }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type ZonePolicy = Static<typeof ZonePolicySchema>;

/** A zone with its policy: what an administrator saves and what the server validates as one. */
export const ZoneWithPolicySchema = Type.Object({ zone: ZoneSchema, policy: ZonePolicySchema }, { additionalProperties: false });
export type ZoneWithPolicy = Static<typeof ZoneWithPolicySchema>;

/** The strictest policy, used for the "unknown network" zone created on first start. */
export function strictestPolicy(): ZonePolicy {
  return {
    channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'seal' },
    openableOrigins: [],
    devices: { allow: [], deny: [] },
    offline: { maxHours: 0, after: 'block-everything' },
    approvals: { decrypt: { steps: ['approver', 'admin'] }, release: { steps: ['approver', 'admin'] } },
  };
}

/**
 * An RFC 3339 timestamp. A pattern rather than `format: date-time`, so that TypeBox's checker (agent) and
 * Ajv (server) agree without registering formats.
 */
export const TimestampSchema = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$',
  maxLength: 40,
  description: 'RFC 3339 date-time, e.g. 2025-01-02T03:04:05.000Z',
});
