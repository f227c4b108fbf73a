import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X25519Identity } from '@exitseal/core';

/** Runs `fn` with a fresh temp directory, removed afterwards whatever happens. */
export async function inTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'exitseal-agent-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ZoneKeys {
  readonly zoneId: string;
  readonly identity: X25519Identity;
  readonly identityFile: string;
}

/** A fresh zone key pair with its identity written where a config can point to it. */
export async function makeZone(dir: string, zoneId: string): Promise<ZoneKeys> {
  const identity = X25519Identity.generate();
  const identityFile = join(dir, `${zoneId}.key`);
  await writeFile(identityFile, `# zone ${zoneId}\n${identity.toSecretString()}\n`, { mode: 0o600 });
  return { zoneId, identity, identityFile };
}

/** A minimal valid configuration object for tests to extend. */
export function baseConfig(dataDir: string, zone: ZoneKeys, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dataDir,
    inboundFolders: [],
    localApi: { socketDir: `${dataDir}-api` },
    localPolicy: {
      version: 'local-1',
      zoneId: zone.zoneId,
      keyVersion: 1,
      sealTo: [zone.identity.recipient.toString()],
      openable: [{ zoneId: zone.zoneId, identityFile: zone.identityFile }],
      channels: { removableMedia: 'seal', outboundFolders: 'seal' },
      deniedDeviceAction: 'block',
      devices: { allow: [], deny: [] },
      outboundFolders: [],
    },
    ...extra,
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A Logger that keeps its lines, so tests can read what the agent reported. */
export class MemoryLogger {
  readonly lines: { level: string; message: string; fields: Readonly<Record<string, unknown>> }[] = [];
  error(message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.lines.push({ level: 'error', message, fields });
  }
  warn(message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  info(message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.lines.push({ level: 'info', message, fields });
  }
  debug(message: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.lines.push({ level: 'debug', message, fields });
  }
}
