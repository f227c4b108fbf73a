import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { StartupError } from './errors.js';

/** The server configuration: `<dataDir>/config.json`, every key optional, validated once at start. */
export const ConfigSchema = Type.Object(
  {
    listenHost: Type.String({ default: '127.0.0.1', minLength: 1 }),
    listenPort: Type.Integer({ default: 8443, minimum: 0, maximum: 65535 }),
    publicHostnames: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: ['localhost', '127.0.0.1'], minItems: 1, description: 'names and IPs in the server certificate' }),
    bodyLimitBytes: Type.Integer({ default: 1024 * 1024, minimum: 1024, maximum: 64 * 1024 * 1024 }),
    sessionTtlMinutes: Type.Integer({ default: 480, minimum: 5, maximum: 7 * 24 * 60 }),
    loginRateLimit: Type.Object(
      { maxFailures: Type.Integer({ default: 5, minimum: 1, maximum: 1000 }), windowSeconds: Type.Integer({ default: 300, minimum: 1, maximum: 86400 }) },
      { default: {}, additionalProperties: false },
    ),
    agentCertificateDays: Type.Integer({ default: 825, minimum: 1, maximum: 3650 }),
    maxEnrolmentTokenHours: Type.Integer({ default: 24 * 30, minimum: 1, maximum: 24 * 365 }),
    releaseTokenHours: Type.Integer({ default: 24, minimum: 1, maximum: 24 * 30 }),
    log: Type.Object(
      {
        level: Type.Union(['error', 'warn', 'info', 'debug'].map((l) => Type.Literal(l)), { default: 'info' }),
        maxSizeBytes: Type.Integer({ default: 20 * 1024 * 1024, minimum: 1024 }),
        maxFiles: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
        console: Type.Boolean({ default: false }),
      },
      { default: {}, additionalProperties: false },
    ),
    syslog: Type.Optional(
      Type.Object(
        {
          host: Type.String({ minLength: 1 }),
          port: Type.Integer({ minimum: 1, maximum: 65535 }),
          transport: Type.Union([Type.Literal('udp'), Type.Literal('tcp')]),
          appName: Type.String({ default: 'exitseal', pattern: '^[!-~]{1,48}$' }),
        },
        { additionalProperties: false, description: 'RFC 5424 forwarding of export events to a SIEM' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type Config = Static<typeof ConfigSchema>;

export interface ServerSettings {
  readonly dataDir: string;
  readonly databasePath: string;
  readonly masterKeyPath: string;
  readonly logDir: string;
  readonly config: Config;
}

export function configPath(dataDir: string): string {
  return join(dataDir, 'config.json');
}

/**
 * Validates a configuration object and fills in defaults. Throws one StartupError listing every bad key,
 * so an operator fixes the file in one go.
 */
export function parseConfig(raw: unknown, source: string): Config {
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw ?? {}));
  const problems = [...Value.Errors(ConfigSchema, withDefaults)].map((e) => `  ${e.path || '/'}: ${e.message}`);
  if (problems.length > 0) throw new StartupError('CONFIG_INVALID', `${source} is invalid:\n${problems.join('\n')}`);
  return withDefaults as Config;
}

/** Reads `<dataDir>/config.json` if present (absent: all defaults), then applies `overrides`. */
export function loadSettings(dataDir: string, overrides: Partial<Config> = {}): ServerSettings {
  const file = configPath(dataDir);
  let raw: unknown = {};
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new StartupError('CONFIG_INVALID', `${file} cannot be read as JSON`, error);
  }
  const merged = { ...(raw as Record<string, unknown>), ...overrides };
  return {
    dataDir,
    databasePath: join(dataDir, 'exitseal.db'),
    masterKeyPath: join(dataDir, 'master.key'),
    logDir: join(dataDir, 'logs'),
    config: parseConfig(merged, file),
  };
}
