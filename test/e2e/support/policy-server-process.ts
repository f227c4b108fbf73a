import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Agent, request as httpsRequest } from 'node:https';
import { connect, type PeerCertificate } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SERVER_BIN = new URL('../../../../policy-server/bin/exitseal-server.js', import.meta.url).pathname;
export const PASSWORD = 'correct horse battery staple';

/** A free TCP port on loopback (so a server can be started later on a port an agent already knows). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export async function serverCli(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [SERVER_BIN, ...args, '--data', dataDir], { env: { ...process.env, ...env } });
  return stdout.trim();
}

export interface JsonResponse {
  readonly status: number;
  readonly json: unknown;
  readonly text: string;
}

/** A person logged in to the server's /api/v1 (session cookie + CSRF token), the way the console does it. */
export class Person {
  private cookie = '';
  private csrf = '';

  constructor(
    private readonly baseUrl: string,
    private readonly agent: Agent,
  ) {}

  async login(username: string): Promise<void> {
    const response = await this.raw('POST', '/api/v1/session', { username, password: PASSWORD });
    if (response.status !== 200) throw new Error(`login ${username}: ${response.status} ${response.text}`);
    this.csrf = (response.json as { csrfToken: string }).csrfToken;
  }

  async call<T>(method: string, path: string, body?: unknown, expected = 200): Promise<T> {
    const response = await this.raw(method, path, body);
    if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
    return response.json as T;
  }

  private raw(method: string, path: string, body?: unknown): Promise<JsonResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { 'x-csrf-token': this.csrf, ...(this.cookie ? { cookie: this.cookie } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) };
    return new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(path, this.baseUrl), { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const setCookie = res.headers['set-cookie']?.[0];
          if (setCookie) this.cookie = setCookie.split(';')[0] ?? '';
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json, text });
        });
      });
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }
}

/**
 * A real `exitseal-server` process with its own data directory, on a fixed loopback port chosen in advance
 * (so it can be stopped and started again where the agent expects it).
 */
export class PolicyServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private caPem: string | undefined;
  readonly output: string[] = [];

  private constructor(
    readonly dataDir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** init + an admin, an approver and an auditor (all with PASSWORD). */
  static async create(dataDir: string): Promise<PolicyServerProcess> {
    const port = await freePort();
    await serverCli(dataDir, ['init', '--host', '127.0.0.1', '--port', String(port)]);
    for (const [username, role] of [['admin1', 'admin'], ['approver1', 'approver'], ['auditor1', 'auditor']] as const) {
      await serverCli(dataDir, ['create-user', '--username', username, '--role', role], { EXITSEAL_PASSWORD: PASSWORD });
    }
    return new PolicyServerProcess(dataDir, port);
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [SERVER_BIN, 'start', '--data', this.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output.push(chunk.toString('utf8'));
        if (this.output.join('').includes('listening on')) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', (chunk: Buffer) => this.output.push(chunk.toString('utf8')));
      child.once('exit', (code) => reject(new Error(`the policy server exited (${code}) before listening:\n${this.output.join('')}`)));
    });
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGTERM');
    await this.exited;
    this.child = undefined;
  }

  /** The server CA, read from the chain the server presents, with its SHA-256 fingerprint (what an admin hands out). */
  async certificateAuthority(): Promise<{ pem: string; fingerprint: string }> {
    const certificate = await new Promise<PeerCertificate>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: this.port, rejectUnauthorized: false }, () => {
        const leaf = socket.getPeerCertificate(true);
        socket.end();
        resolve(leaf.issuerCertificate);
      });
      socket.on('error', reject);
    });
    const lines = certificate.raw.toString('base64').match(/.{1,64}/g) ?? [];
    this.caPem = `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
    return { pem: this.caPem, fingerprint: certificate.fingerprint256.replace(/:/g, '').toLowerCase() };
  }

  async person(username: string): Promise<Person> {
    const ca = this.caPem ?? (await this.certificateAuthority()).pem;
    const person = new Person(this.url, new Agent({ ca, keepAlive: false }));
    await person.login(username);
    return person;
  }

  async enrolmentToken(zoneId: string): Promise<string> {
    return serverCli(this.dataDir, ['enrol-token', '--zone', zoneId, '--hours', '1']);
  }

  /** How many export events the server has stored, by checking its whole chain (and that it is intact). */
  async storedEventCount(): Promise<number> {
    const out = await serverCli(this.dataDir, ['verify-log']);
    const match = /export log: OK \((\d+) rows checked\)/.exec(out);
    if (!match) throw new Error(`verify-log: ${out}`);
    return Number(match[1]);
  }
}
