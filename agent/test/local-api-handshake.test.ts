import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { validateAgentConfig } from '../src/config/agent-config.js';
import { agentHandlers } from '../src/local-api/agent-handlers.js';
import { decodeToken, newNonce, newToken, proofMatches, proofOf } from '../src/local-api/handshake.js';
import { LocalApiServer, socketPathFor } from '../src/local-api/local-api-server.js';
import { parseProfileList } from '../src/platform/os-users.js';
import { LinuxUserSecrets } from '../src/platform/user-secret.linux.js';
import { icaclsCommands, WindowsUserSecrets } from '../src/platform/user-secret.win32.js';
import { LocalPolicySource } from '../src/policy/agent-policy.js';
import { RecentNotices } from '../src/sealing/notifier.js';
import { AgentDatabase } from '../src/storage/database.js';
import { EventOutbox } from '../src/storage/event-outbox.js';
import { RequestStore } from '../src/storage/request-store.js';
import { baseConfig, inTempDir, makeZone, MemoryLogger } from './helpers.js';

type Message = Record<string, unknown> & { id?: number | null; error?: { code: string }; result?: Record<string, unknown> };

/** A raw client: sends lines, collects every line the agent sends until it closes the connection. */
class RawClient {
  readonly received: Message[] = [];
  readonly closed: Promise<void>;
  private buffered = '';
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    // Writing after the agent closed the connection fails with EPIPE: expected in the refusal tests.
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let newline: number;
      while ((newline = this.buffered.indexOf('\n')) >= 0) {
        this.received.push(JSON.parse(this.buffered.slice(0, newline)) as Message);
        this.buffered = this.buffered.slice(newline + 1);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static open(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.socket.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  }

  /** The next message, or undefined if the agent closed the connection first. */
  async next(): Promise<Message | undefined> {
    for (;;) {
      const message = this.received.shift();
      if (message) return message;
      if (this.socket.destroyed || this.socket.readableEnded) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The client's side of the handshake with `token`; returns the agent's last answer. */
  async handshake(token: Buffer): Promise<{ serverProved: boolean; answer: Message | undefined }> {
    const clientNonce = newNonce();
    this.send({ hello: { nonce: clientNonce } });
    const hello = (await this.next())?.hello as { nonce: string; proof: string } | undefined;
    assert.ok(hello, 'the agent answers a hello with its own');
    const serverProved = proofMatches(proofOf(token, 'server', clientNonce, hello.nonce), hello.proof);
    this.send({ proof: proofOf(token, 'client', clientNonce, hello.nonce) });
    return { serverProved, answer: await this.next() };
  }

  close(): void {
    this.socket.destroy();
  }
}

async function withAgent(fn: (ctx: { api: LocalApiServer; secrets: LinuxUserSecrets; socketDir: string; open: (person: { osUser: string }) => Promise<{ path: string; token: Buffer }> }) => Promise<void>): Promise<void> {
  await inTempDir(async (dir) => {
    const zone = await makeZone(dir, 'lgwan');
    const config = validateAgentConfig(baseConfig(join(dir, 'data'), zone));
    const db = AgentDatabase.open(join(dir, 'agent.db'));
    const logger = new MemoryLogger();
    const outbox = new EventOutbox(db);
    const event = { host: 'PC', zoneId: 'lgwan', channel: 'removableMedia' as const, size: 1, action: 'sealed' as const };
    outbox.append({ ...event, osUser: 'alice', fileName: 'alices.txt' });
    outbox.append({ ...event, osUser: 'bob', fileName: 'bobs.txt' });
    const api = new LocalApiServer(
      agentHandlers({ policy: new LocalPolicySource(config.localPolicy!), outbox, store: new RequestStore(db), notifier: new RecentNotices(logger), watchedRoots: () => [] }),
      logger,
    );
    const socketDir = join(dir, 'api');
    const secrets = new LinuxUserSecrets(socketDir);
    const open = async (person: { osUser: string }) => {
      const token = await secrets.issue(person);
      const path = socketPathFor('linux', socketDir, person);
      await api.listenFor(person, path, { token, release: () => secrets.revoke(person) });
      return { path, token };
    };
    try {
      await fn({ api, secrets, socketDir, open });
    } finally {
      await api.close();
      db.close();
    }
  });
}

describe('local API handshake over a real socket', () => {
  test('the right token is accepted (both sides prove it) and the caller then acts as that person only', async () => {
    await withAgent(async ({ secrets, open }) => {
      const alice = { osUser: 'alice' };
      const { path } = await open(alice);
      const token = decodeToken(await readFile(secrets.tokenPath(alice), 'utf8'));
      assert.ok(token, 'the token file holds a 256-bit token in hex');
      assert.equal(token.length, 32);
      const client = await RawClient.open(path);
      try {
        const { serverProved, answer } = await client.handshake(token);
        assert.equal(serverProved, true, 'the agent proved it holds the token');
        assert.deepEqual(answer, { ready: { osUser: 'alice' } });
        client.send({ id: 1, method: 'recentEvents', params: {} });
        const reply = await client.next();
        assert.deepEqual((reply?.result as unknown as { fileName: string }[]).map((e) => e.fileName), ['alices.txt']);
      } finally {
        client.close();
      }
    });
  });

  test('a wrong token is refused and the connection closed; the client also sees the agent did not prove its token', async () => {
    await withAgent(async ({ open }) => {
      const { path } = await open({ osUser: 'alice' });
      const client = await RawClient.open(path);
      const { serverProved, answer } = await client.handshake(newToken());
      assert.equal(serverProved, false);
      assert.equal(answer?.error?.code, 'AUTH_FAILED');
      client.send({ id: 1, method: 'recentEvents', params: {} });
      await client.closed;
      assert.deepEqual(client.received, [], 'nothing is answered after a refusal');
    });
  });

  test('no handshake (a request first, or garbage) is refused and closed, nothing is answered', async () => {
    await withAgent(async ({ open }) => {
      const { path } = await open({ osUser: 'alice' });
      for (const first of [{ id: 1, method: 'recentEvents', params: {} }, 'not json', { hello: { nonce: 'short' } }]) {
        const client = await RawClient.open(path);
        client.send(first);
        client.send({ id: 2, method: 'status', params: {} });
        const answer = await client.next();
        assert.equal(answer?.error?.code, 'AUTH_REQUIRED');
        await client.closed;
        assert.deepEqual(client.received, [], 'no result for the request');
      }
    });
  });

  test("one person's token cannot act for another on the other's socket", async () => {
    await withAgent(async ({ open }) => {
      const alice = await open({ osUser: 'alice' });
      const bob = await open({ osUser: 'bob' });
      const client = await RawClient.open(bob.path);
      const { serverProved, answer } = await client.handshake(alice.token);
      assert.equal(serverProved, false);
      assert.equal(answer?.error?.code, 'AUTH_FAILED');
      await client.closed;
      const own = await RawClient.open(bob.path);
      try {
        assert.deepEqual((await own.handshake(bob.token)).answer, { ready: { osUser: 'bob' } });
      } finally {
        own.close();
      }
    });
  });

  test('the token rotates when the agent restarts and is removed when it stops; its file is 0600 in a 0700 directory', async () => {
    await withAgent(async ({ api, secrets, open }) => {
      const alice = { osUser: 'alice' };
      const first = await open(alice);
      assert.equal((await stat(secrets.tokenPath(alice))).mode & 0o777, 0o600);
      assert.equal((await stat(secrets.userDir(alice))).mode & 0o777, 0o700);
      await api.close();
      await assert.rejects(stat(secrets.tokenPath(alice)), { code: 'ENOENT' }, 'the token is removed when the agent stops');
      const second = await open(alice);
      assert.notDeepEqual(second.token, first.token);
      const stale = await RawClient.open(second.path);
      assert.equal((await stale.handshake(first.token)).answer?.error?.code, 'AUTH_FAILED', 'the previous run\'s token is refused');
      await stale.closed;
    });
  });
});

describe('Windows token files (icacls)', () => {
  const tanaka = { osUser: 'tanaka', sid: 'S-1-5-21-1004336348-1177238915-682003330-1001' };

  test('the exact icacls calls: root locked once (owner, reset, SYSTEM and Administrators only), each person\'s fresh directory readable by their SID only', async () => {
    await inTempDir(async (dir) => {
      const calls: string[][] = [];
      const root = join(dir, 'api');
      const secrets = new WindowsUserSecrets(root, (args) => {
        calls.push([...args]);
        return Promise.resolve();
      });
      const token = await secrets.issue(tanaka);
      await secrets.issue({ osUser: 'sato yuki' });
      const tanakaDir = join(root, 'tanaka');
      assert.deepEqual(calls, [
        [root, '/setowner', '*S-1-5-18', '/Q'],
        [root, '/reset', '/Q'],
        [root, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', '/Q'],
        [tanakaDir, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', '*S-1-5-21-1004336348-1177238915-682003330-1001:(OI)(CI)R', '/Q'],
        [join(root, 'sato_yuki'), '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', 'sato yuki:(OI)(CI)R', '/Q'],
      ]);
      assert.deepEqual(icaclsCommands(root, tanakaDir, tanaka).user, [calls[3]]);
      assert.deepEqual(decodeToken(await readFile(secrets.tokenPath(tanaka), 'utf8')), token);
      assert.equal(secrets.tokenPath(tanaka), join(tanakaDir, 'agent.token'));
    });
  });

  test('when icacls fails no token is written and the error says so with its cause', async () => {
    await inTempDir(async (dir) => {
      const secrets = new WindowsUserSecrets(join(dir, 'api'), (args) => (args.includes('/grant:r') && args[0]?.endsWith('tanaka') ? Promise.reject(new Error('Access is denied.')) : Promise.resolve()));
      await assert.rejects(secrets.issue(tanaka), (error: Error & { code?: string }) => error.code === 'LOCAL_API_SECRET_FAILED' && error.cause instanceof Error);
      await assert.rejects(stat(secrets.tokenPath(tanaka)), { code: 'ENOENT' });
    });
  });

  test('the people with a profile are read from the registry\'s ProfileList, system accounts left out', () => {
    const text = [
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-18',
      '    ProfileImagePath    REG_EXPAND_SZ    %systemroot%\\system32\\config\\systemprofile',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-21-1004336348-1177238915-682003330-1001',
      '    ProfileImagePath    REG_EXPAND_SZ    C:\\Users\\tanaka',
      '',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-12-1-111-222-333-444',
      '    ProfileImagePath    REG_EXPAND_SZ    C:\\Users\\sato.CITY',
      '',
      'End of search: 3 match(es) found.',
      '',
    ].join('\r\n');
    assert.deepEqual(parseProfileList(text), [
      { osUser: 'tanaka', sid: 'S-1-5-21-1004336348-1177238915-682003330-1001' },
      { osUser: 'sato.CITY', sid: 'S-1-12-1-111-222-333-444' },
    ]);
  });
});
