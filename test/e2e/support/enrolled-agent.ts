import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AGENT_BIN } from './agent-process.js';
import type { Person, PolicyServerProcess } from './policy-server-process.js';

const run = promisify(execFile);

/** Runs the agent CLI once and returns its exit code and output (a failure is an answer, not a throw). */
export async function agentCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [AGENT_BIN, ...args]);
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, out: failed.stdout, err: failed.stderr };
  }
}

/** An agent configuration for a server-managed agent (no local policy), with fast polling and uploads for tests. */
export async function writeServerAgentConfig(dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, 'agent.json');
  const config = {
    dataDir: join(dir, 'data'),
    logging: { level: 'info', console: true },
    inboundFolders: [],
    localApi: { socketDir: join(dir, 'api') },
    server: { pollSeconds: 1, uploadIntervalMs: 100, retryMaxSeconds: 2 },
    network: { pollMs: 200 },
    ...extra,
  };
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/** The zone identities an agent received in its cached, signed bundle, by zone. */
export async function bundleSecrets(dataDir: string): Promise<Map<string, string>> {
  const cached = JSON.parse(await readFile(join(dataDir, 'policy', 'bundle.json'), 'utf8')) as { signedBundle: { payload: string } };
  const payload = JSON.parse(cached.signedBundle.payload) as { identities: { zoneId: string; secret: string }[] };
  return new Map(payload.identities.map((identity) => [identity.zoneId, identity.secret]));
}

/**
 * Enrols the agent of `configPath` with `exitseal-agent enrol` (CA pinned by fingerprint) and writes the
 * zone identity from its bundle to `identityFile` (0600), the way an administrator holds a recovery key.
 */
export async function enrolByCli(server: PolicyServerProcess, configPath: string, dataDir: string, zoneId: string, identityFile: string): Promise<void> {
  const token = await server.enrolmentToken(zoneId);
  const { fingerprint } = await server.certificateAuthority();
  const enrolled = await agentCli(['enrol', '--config', configPath, '--server', server.url, `--token=${token}`, '--ca-fingerprint', fingerprint]);
  if (enrolled.code !== 0) throw new Error(`exitseal-agent enrol failed (${enrolled.code}): ${enrolled.err}`);
  const secret = (await bundleSecrets(dataDir)).get(zoneId);
  if (!secret) throw new Error(`the bundle holds no identity for zone ${zoneId}`);
  await writeFile(identityFile, `${secret}\n`, { mode: 0o600 });
}

export interface ServerEvent {
  readonly eventId: string;
  readonly fileName: string;
  readonly mediaPath: string | null;
  readonly sha256: string | null;
  readonly action: string;
  readonly reason: string | null;
  readonly zoneId: string;
  readonly deviceSerial: string | null;
  readonly deviceLabel: string | null;
  readonly deviceMount: string | null;
  readonly agentChainOk: boolean;
}

/** Every event the server holds for one agent, read page by page through the auditor's search API. */
export async function serverEventsOf(auditor: Person, agentId: string): Promise<ServerEvent[]> {
  const events: ServerEvent[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await auditor.call<{ events: ServerEvent[]; nextCursor?: number }>('GET', `/api/v1/events?agentId=${agentId}&limit=1000${before === undefined ? '' : `&before=${before}`}`);
    events.push(...page.events);
    if (page.nextCursor === undefined) return events;
    before = page.nextCursor;
  }
}
