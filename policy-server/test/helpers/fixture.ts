// Starts a real server (HTTPS + mTLS on 127.0.0.1, ephemeral port, SQLite in a temp dir) for the tests.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strictestPolicy, type ZonePolicy, type ZoneWithPolicy } from '@exitseal/core/policy';
import type { EnrolResponse } from '@exitseal/core/wire';
import { createAgentCsr } from '../../src/pki/forge.js';
import { initDataDir, startServer, type RunningServer } from '../../src/main.js';
import { runCli, type CliIo } from '../../src/cli/commands.js';
import type { Clock } from '../../src/services/clock.js';
import type { Config } from '../../src/config.js';
import { expectStatus, HttpsClient, PersonClient } from './http.js';

export class TestClock implements Clock {
  private current: number;
  constructor(start = Date.parse('2025-04-01T09:00:00Z')) {
    this.current = start;
  }
  now(): Date {
    return new Date(this.current);
  }
  advanceHours(hours: number): void {
    this.current += hours * 3600_000;
  }
}

export const PASSWORD = 'correct horse battery staple';

export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'exitseal-server-test-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs a CLI command in-process and collects its output. */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    env,
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    readSecret: () => Promise.reject(new Error('no stdin in tests')),
    untilStopped: () => Promise.resolve(),
  };
  const code = await runCli(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function zonePolicy(openableOrigins: string[]): ZonePolicy {
  return {
    channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'block' },
    openableOrigins,
    devices: { allow: [], deny: [{ vendorId: 'dead' }] },
    offline: { maxHours: 72, after: 'seal-everything' },
    approvals: { decrypt: { steps: ['approver', 'admin'] }, release: { steps: ['approver', 'admin'] } },
  };
}

/** The reference customer: My Number files open only in My Number; LGWAN and Internet files open in all three. */
export function customerZones(): ZoneWithPolicy[] {
  return [
    { zone: { id: 'mynumber', name: 'マイナンバー系', priority: 1, fallback: false, detection: { cidrs: ['10.1.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['mynumber', 'lgwan', 'internet']) },
    { zone: { id: 'lgwan', name: 'LGWAN接続系', priority: 2, fallback: false, detection: { cidrs: ['10.2.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['lgwan', 'internet']) },
    { zone: { id: 'internet', name: 'インターネット接続系', priority: 3, fallback: false, detection: { cidrs: ['192.168.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['lgwan', 'internet']) },
  ];
}

export { strictestPolicy };

export interface EnrolledAgent {
  readonly id: string;
  readonly zoneId: string;
  readonly enrolment: EnrolResponse;
  /** The agent's private key (made with its CSR); with the certificate it is the agent's mTLS identity. */
  readonly keyPem: string;
  client: HttpsClient;
}

export class ServerFixture {
  readonly clock = new TestClock();
  server!: RunningServer;
  anonymous!: HttpsClient;
  private readonly clients: HttpsClient[] = [];

  constructor(
    readonly dataDir: string,
    private readonly overrides: Partial<Config> = {},
  ) {}

  static async create(dataDir: string, overrides: Partial<Config> = {}): Promise<ServerFixture> {
    await initDataDir({ dataDir });
    const fixture = new ServerFixture(dataDir, overrides);
    await fixture.start();
    return fixture;
  }

  async start(): Promise<void> {
    this.server = await startServer({ dataDir: this.dataDir, clock: this.clock, overrides: { listenHost: '127.0.0.1', listenPort: 0, ...this.overrides } });
    this.anonymous = this.client();
  }

  get ca(): string {
    return this.server.services.identity.ca.certificatePem;
  }

  client(tls: { cert?: string; key?: string } = {}): HttpsClient {
    const client = new HttpsClient(this.server.url, { ca: this.ca, ...tls });
    this.clients.push(client);
    return client;
  }

  async person(username: string, role: string): Promise<PersonClient> {
    const created = await cli(['create-user', '--data', this.dataDir, '--username', username, '--role', role], { EXITSEAL_PASSWORD: PASSWORD });
    if (created.code !== 0) throw new Error(created.err);
    return this.login(username);
  }

  async login(username: string): Promise<PersonClient> {
    const person = new PersonClient(this.client());
    const response = await person.login(username, PASSWORD);
    if (response.status !== 200) throw new Error(`login ${username}: ${response.text}`);
    return person;
  }

  async enrol(admin: PersonClient, zoneId: string, hostname: string): Promise<EnrolledAgent> {
    const { token } = await admin.expect<{ token: string }>(201, '/api/v1/enrolment-tokens', { body: { zoneId, validHours: 24 } });
    const { keyPem, csrPem } = createAgentCsr(hostname);
    const enrolment = await expectStatus<EnrolResponse>(this.anonymous, 200, '/agent/v1/enrol', { body: { token, csrPem, hostname, osName: 'Windows 11', agentVersion: '0.1.0' } });
    return { id: enrolment.agentId, zoneId, enrolment, keyPem, client: this.client({ cert: enrolment.certificatePem, key: keyPem }) };
  }

  /** A fresh connection for an agent (after a restart the old clients are closed). */
  reconnect(agent: EnrolledAgent): HttpsClient {
    agent.client = this.client({ cert: agent.enrolment.certificatePem, key: agent.keyPem });
    return agent.client;
  }

  async stop(): Promise<void> {
    for (const client of this.clients.splice(0)) client.close();
    await this.server.close();
    this.reportLoggedErrors();
  }

  /**
   * A 500 tells a test only that "the fault is logged"; the log lives in a temp dir that is removed after the
   * suite. Printing its error lines here makes a rare failure in CI say what went wrong.
   */
  private reportLoggedErrors(): void {
    const logDir = join(this.dataDir, 'logs');
    if (!existsSync(logDir)) return;
    const errors = readdirSync(logDir)
      .flatMap((name) => readFileSync(join(logDir, name), 'utf8').split('\n'))
      .filter((line) => line.includes('"level":"error"'));
    if (errors.length > 0) console.error(`server errors logged in ${this.dataDir}:\n${errors.join('\n')}`);
  }
}
