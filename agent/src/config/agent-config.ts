import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ExitSealError, X25519Identity, X25519Recipient } from '@exitseal/core';

/**
 * The agent's one configuration file (JSON), validated once at start. Every problem found is collected and
 * reported together in a single ConfigError, so an administrator fixes the file in one pass.
 *
 * `localPolicy` lets the agent work before (or without) a policy server: it has the same meaning as the
 * server's signed bundle and becomes the same in-memory AgentPolicy (see policy/agent-policy.ts).
 */

const ZONE_ID = '^[a-z0-9][a-z0-9_-]{0,62}$';
const HEX4 = '^[0-9a-f]{4}$';
const AbsolutePath = Type.String({ minLength: 1, maxLength: 4096, description: 'an absolute path' });
const ChannelAction = Type.Union([Type.Literal('seal'), Type.Literal('block'), Type.Literal('read-only'), Type.Literal('allow')]);

const DeviceRuleSchema = Type.Object(
  {
    vendorId: Type.String({ pattern: HEX4, description: 'USB vendor id, 4 lower-case hex digits' }),
    productId: Type.Optional(Type.String({ pattern: HEX4 })),
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

const DeclaredVolumeSchema = Type.Object(
  {
    path: AbsolutePath,
    kind: Type.Union([Type.Literal('mount'), Type.Literal('directory')], {
      description: '"mount": removable while a file system is mounted at path; "directory": removable while the directory exists',
    }),
    label: Type.Optional(Type.String({ maxLength: 128 })),
    serial: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  },
  { additionalProperties: false },
);

const LocalPolicySchema = Type.Object(
  {
    version: Type.String({ minLength: 1, maxLength: 64, description: 'shown as the policy version, e.g. "local-1"' }),
    zoneId: Type.String({ pattern: ZONE_ID, description: 'the zone this PC is in' }),
    keyVersion: Type.Integer({ minimum: 1, maximum: 999_999_999 }),
    sealTo: Type.Array(Type.String({ maxLength: 200 }), { minItems: 1, maxItems: 8, description: 'age1... recipients: the zone key first, then any recovery key' }),
    openable: Type.Array(
      Type.Object({ zoneId: Type.String({ pattern: ZONE_ID }), identityFile: AbsolutePath }, { additionalProperties: false }),
      { maxItems: 64, description: 'zones whose files this PC may open, with the file holding that zone identity' },
    ),
    channels: Type.Object({ removableMedia: ChannelAction, outboundFolders: ChannelAction }, { additionalProperties: false }),
    deniedDeviceAction: Type.Union([Type.Literal('block'), Type.Literal('read-only')]),
    devices: Type.Object(
      { allow: Type.Array(DeviceRuleSchema, { maxItems: 1000 }), deny: Type.Array(DeviceRuleSchema, { maxItems: 1000 }) },
      { additionalProperties: false },
    ),
    outboundFolders: Type.Array(AbsolutePath, { maxItems: 64 }),
  },
  { additionalProperties: false },
);

const LogLevel = Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')]);

export const AgentConfigSchema = Type.Object(
  {
    dataDir: AbsolutePath,
    logging: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(LogLevel),
          console: Type.Optional(Type.Boolean({ description: 'also write the JSON lines to stdout' })),
          maxFileBytes: Type.Optional(Type.Integer({ minimum: 65536, maximum: 1_073_741_824 })),
          maxFiles: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        },
        { additionalProperties: false },
      ),
    ),
    media: Type.Optional(
      Type.Object(
        {
          pollIntervalMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 10_000, description: 'how often the mount table is read' })),
          settleMs: Type.Optional(Type.Integer({ minimum: 20, maximum: 10_000, description: 'a file is sealed once unchanged for this long' })),
          sealConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
          declaredVolumes: Type.Optional(Type.Array(DeclaredVolumeSchema, { maxItems: 64 })),
        },
        { additionalProperties: false },
      ),
    ),
    inboundFolders: Type.Optional(Type.Array(AbsolutePath, { maxItems: 256 })),
    outboundFolders: Type.Optional(
      Type.Array(AbsolutePath, { maxItems: 64, description: 'folders that lead out of this PC (cloud sync, a share to another network); with a policy server, its zone policy says what happens in them' }),
    ),
    server: Type.Optional(
      Type.Object(
        {
          pollSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'how often the policy bundle is fetched (a 304 when unchanged)' })),
          uploadBatchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'export events per upload request' })),
          uploadIntervalMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 600_000, description: 'how often the outbox is checked for events to upload' })),
          retryMaxSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 3600, description: 'longest wait between retries while the server is unreachable' })),
          requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 300_000 })),
        },
        { additionalProperties: false, description: 'talking to the policy server once enrolled (exitseal-agent enrol)' },
      ),
    ),
    network: Type.Optional(
      Type.Object(
        { pollMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'how often the network (addresses, gateway, DNS suffix) is read for zone detection' })) },
        { additionalProperties: false },
      ),
    ),
    localApi: Type.Optional(
      Type.Object(
        { socketDir: Type.Optional(AbsolutePath) },
        { additionalProperties: false, description: 'where the per-user sockets of the tray app API are made (Linux/macOS)' },
      ),
    ),
    localPolicy: Type.Optional(LocalPolicySchema),
  },
  { additionalProperties: false },
);

type RawConfig = Static<typeof AgentConfigSchema>;
export type DeviceRule = Static<typeof DeviceRuleSchema>;
export type DeclaredVolume = Static<typeof DeclaredVolumeSchema>;
export type ChannelActionName = Static<typeof ChannelAction>;
export type LogLevelName = Static<typeof LogLevel>;

export interface OpenableZone {
  readonly zoneId: string;
  readonly identities: readonly X25519Identity[];
}

/** The validated configuration with defaults applied and keys parsed. */
export interface AgentConfig {
  readonly dataDir: string;
  readonly logging: { readonly level: LogLevelName; readonly console: boolean; readonly maxFileBytes: number; readonly maxFiles: number };
  readonly media: {
    readonly pollIntervalMs: number;
    readonly settleMs: number;
    readonly sealConcurrency: number;
    readonly declaredVolumes: readonly DeclaredVolume[];
  };
  readonly inboundFolders: readonly string[];
  readonly outboundFolders: readonly string[];
  readonly server: {
    readonly pollSeconds: number;
    readonly uploadBatchSize: number;
    readonly uploadIntervalMs: number;
    readonly retryMaxSeconds: number;
    readonly requestTimeoutMs: number;
  };
  readonly network: { readonly pollMs: number };
  readonly localApi: { readonly socketDir: string };
  /** The policy used when the agent is not enrolled with a policy server. */
  readonly localPolicy?: LocalPolicy;
}

export interface LocalPolicy {
  readonly version: string;
  readonly zoneId: string;
  readonly keyVersion: number;
  readonly sealTo: readonly X25519Recipient[];
  readonly openable: readonly OpenableZone[];
  readonly channels: { readonly removableMedia: ChannelActionName; readonly outboundFolders: ChannelActionName };
  readonly deniedDeviceAction: 'block' | 'read-only';
  readonly devices: { readonly allow: readonly DeviceRule[]; readonly deny: readonly DeviceRule[] };
  readonly outboundFolders: readonly string[];
}

export class ConfigError extends ExitSealError {
  readonly issues: readonly string[];

  constructor(source: string, issues: readonly string[], options: { cause?: unknown } = {}) {
    super('CONFIG_INVALID', `invalid agent configuration ${source}:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`, { kind: 'client', ...options });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Reads what a path-like key holds, for the few checks that need the file system (identity files). */
export interface ConfigFileReader {
  readText(path: string): string;
}

export const diskReader: ConfigFileReader = { readText: (path) => readFileSync(path, 'utf8') };

/**
 * Where staff put files they bring back from a stick. The default covers each user's Desktop, Documents
 * and Downloads; the caller passes the home directories it found.
 */
export function defaultInboundFolders(homes: readonly string[]): string[] {
  return homes.flatMap((home) => ['Desktop', 'Documents', 'Downloads'].map((name) => join(home, name)));
}

/** Under /run where it exists (cleared at boot, like the sockets it holds), else beside the data. */
function defaultSocketDir(dataDir: string): string {
  return process.platform === 'linux' ? '/run/exitseal' : join(dataDir, 'api');
}

function schemaIssues(schema: TSchema, value: unknown): string[] {
  const issues: string[] = [];
  for (const error of Value.Errors(schema, value)) {
    issues.push(`${error.path === '' ? '(root)' : error.path}: ${error.message}`);
  }
  // Unions report one error per branch and nested failures can repeat: keep each line once.
  return [...new Set(issues)];
}

function parseIdentityFile(text: string): X25519Identity[] {
  const identities: X25519Identity[] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    identities.push(X25519Identity.parse(trimmed));
  }
  return identities;
}

function semanticChecks(raw: RawConfig, reader: ConfigFileReader, issues: string[]): LocalPolicy | undefined {
  const absolute = (path: string, where: string) => {
    if (!isAbsolute(path)) issues.push(`${where}: must be an absolute path (got ${JSON.stringify(path)})`);
  };
  absolute(raw.dataDir, '/dataDir');
  raw.inboundFolders?.forEach((path, i) => absolute(path, `/inboundFolders/${i}`));
  raw.outboundFolders?.forEach((path, i) => absolute(path, `/outboundFolders/${i}`));
  raw.media?.declaredVolumes?.forEach((volume, i) => absolute(volume.path, `/media/declaredVolumes/${i}/path`));
  const policy = raw.localPolicy;
  if (policy === undefined) return undefined;
  policy.outboundFolders.forEach((path, i) => absolute(path, `/localPolicy/outboundFolders/${i}`));

  const sealTo: X25519Recipient[] = [];
  policy.sealTo.forEach((text, i) => {
    try {
      sealTo.push(X25519Recipient.parse(text));
    } catch {
      issues.push(`/localPolicy/sealTo/${i}: not an age X25519 recipient (expected "age1...")`);
    }
  });

  const openable: OpenableZone[] = [];
  const seenZones = new Set<string>();
  policy.openable.forEach((entry, i) => {
    const where = `/localPolicy/openable/${i}`;
    if (seenZones.has(entry.zoneId)) issues.push(`${where}/zoneId: zone ${entry.zoneId} is listed twice`);
    seenZones.add(entry.zoneId);
    absolute(entry.identityFile, `${where}/identityFile`);
    let text: string;
    try {
      text = reader.readText(entry.identityFile);
    } catch (error) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : 'unreadable';
      issues.push(`${where}/identityFile: cannot read ${entry.identityFile} (${code})`);
      return;
    }
    try {
      const identities = parseIdentityFile(text);
      if (identities.length === 0) issues.push(`${where}/identityFile: ${entry.identityFile} holds no AGE-SECRET-KEY-1 line`);
      else openable.push({ zoneId: entry.zoneId, identities });
    } catch {
      // Never echo the file: it holds a secret key.
      issues.push(`${where}/identityFile: ${entry.identityFile} has a line that is not an age X25519 identity`);
    }
  });

  return {
    version: policy.version,
    zoneId: policy.zoneId,
    keyVersion: policy.keyVersion,
    sealTo,
    openable,
    channels: policy.channels,
    deniedDeviceAction: policy.deniedDeviceAction,
    devices: policy.devices,
    outboundFolders: policy.outboundFolders,
  };
}

/** Validates a parsed configuration object; throws one ConfigError listing every problem. */
export function validateAgentConfig(
  value: unknown,
  options: { source?: string; reader?: ConfigFileReader; homes?: readonly string[] } = {},
): AgentConfig {
  const source = options.source ?? '(inline)';
  const issues = schemaIssues(AgentConfigSchema, value);
  if (issues.length > 0) throw new ConfigError(source, issues);
  const raw = value as RawConfig;
  const localPolicy = semanticChecks(raw, options.reader ?? diskReader, issues);
  if (issues.length > 0) throw new ConfigError(source, issues);
  return {
    dataDir: raw.dataDir,
    logging: {
      level: raw.logging?.level ?? 'info',
      console: raw.logging?.console ?? false,
      maxFileBytes: raw.logging?.maxFileBytes ?? 10 * 1024 * 1024,
      maxFiles: raw.logging?.maxFiles ?? 5,
    },
    media: {
      pollIntervalMs: raw.media?.pollIntervalMs ?? 250,
      settleMs: raw.media?.settleMs ?? 200,
      sealConcurrency: raw.media?.sealConcurrency ?? 2,
      declaredVolumes: raw.media?.declaredVolumes ?? [],
    },
    inboundFolders: raw.inboundFolders ?? defaultInboundFolders(options.homes ?? [homedir()]),
    outboundFolders: raw.outboundFolders ?? [],
    server: {
      pollSeconds: raw.server?.pollSeconds ?? 60,
      uploadBatchSize: raw.server?.uploadBatchSize ?? 500,
      uploadIntervalMs: raw.server?.uploadIntervalMs ?? 2000,
      retryMaxSeconds: raw.server?.retryMaxSeconds ?? 300,
      requestTimeoutMs: raw.server?.requestTimeoutMs ?? 30_000,
    },
    network: { pollMs: raw.network?.pollMs ?? 5000 },
    localApi: { socketDir: raw.localApi?.socketDir ?? defaultSocketDir(raw.dataDir) },
    ...(localPolicy === undefined ? {} : { localPolicy }),
  };
}

/** Reads and validates the configuration file at `path`. */
export function loadAgentConfig(path: string, options: { reader?: ConfigFileReader; homes?: readonly string[] } = {}): AgentConfig {
  const reader = options.reader ?? diskReader;
  let text: string;
  try {
    text = reader.readText(path);
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${error instanceof Error ? error.message : String(error)}`], { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON: ${error instanceof Error ? error.message : String(error)}`], { cause: error });
  }
  return validateAgentConfig(value, { ...options, source: path });
}
