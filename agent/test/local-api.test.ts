import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { agentHandlers } from '../src/local-api/agent-handlers.js';
import { LocalApiServer, socketPathFor } from '../src/local-api/local-api-server.js';
import { LocalPolicySource } from '../src/policy/agent-policy.js';
import { LinuxUserSecrets } from '../src/platform/user-secret.linux.js';
import { validateAgentConfig } from '../src/config/agent-config.js';
import { RecentNotices } from '../src/sealing/notifier.js';
import { AgentDatabase } from '../src/storage/database.js';
import { EventOutbox } from '../src/storage/event-outbox.js';
import { RequestStore } from '../src/storage/request-store.js';
import { baseConfig, inTempDir, makeZone, MemoryLogger } from './helpers.js';

const isRoot = process.getuid?.() === 0;

/**
 * Runs a one-off client as another OS user: does the handshake with the token file beside the socket (as the
 * tray app does), sends `lines`, prints what came back after the handshake, or the error code of reaching it.
 */
async function callAs(uid: number, socketPath: string, lines: string[]): Promise<string> {
  const script = `
    const net = require('node:net');
    const crypto = require('node:crypto');
    const path = require('node:path');
    const fs = require('node:fs');
    const lines = JSON.parse(process.argv[2]);
    let token;
    try { token = Buffer.from(fs.readFileSync(path.join(path.dirname(process.argv[1]), 'agent.token'), 'utf8').trim(), 'hex'); }
    catch (e) { process.stdout.write('ERROR ' + e.code); process.exit(0); }
    const proof = (role, c, s) => crypto.createHmac('sha256', token).update('exitseal-agent ' + role + '\\n' + c + '\\n' + s).digest('hex');
    const nonce = crypto.randomBytes(32).toString('hex');
    const socket = net.connect(process.argv[1], () => socket.write(JSON.stringify({ hello: { nonce } }) + '\\n'));
    let out = '';
    let stage = 'hello';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      out += d;
      let i;
      while (stage !== 'ready' && (i = out.indexOf('\\n')) >= 0) {
        const message = JSON.parse(out.slice(0, i));
        out = out.slice(i + 1);
        if (stage === 'hello') {
          if (!message.hello || message.hello.proof !== proof('server', nonce, message.hello.nonce)) { process.stdout.write('ERROR NOT_THE_AGENT'); process.exit(0); }
          socket.write(JSON.stringify({ proof: proof('client', nonce, message.hello.nonce) }) + '\\n');
          stage = 'proof';
        } else if (message.ready) {
          stage = 'ready';
          for (const l of lines) socket.write(l + '\\n');
        } else { process.stdout.write('ERROR ' + JSON.stringify(message)); process.exit(0); }
      }
      if (stage === 'ready' && out.split('\\n').length > lines.length) { process.stdout.write(out); socket.end(); }
    });
    socket.on('error', (e) => { process.stdout.write('ERROR ' + e.code); process.exit(0); });
  `;
  // Asynchronous: the server answering is in this very process.
  const child = spawn(process.execPath, ['-e', script, socketPath, JSON.stringify(lines)], { uid, gid: uid, stdio: ['ignore', 'pipe', 'inherit'], timeout: 10_000 });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (output += chunk));
  await new Promise((resolve) => child.once('close', resolve));
  return output;
}

describe('local API for the tray app', { skip: isRoot ? false : 'needs root to act as two different OS users' }, () => {
  test('each person reaches only their own socket, sees only their own data, and bad requests are refused with a code', async () => {
    await inTempDir(async (dir) => {
      await chmod(dir, 0o755);
      const zone = await makeZone(dir, 'lgwan');
      const config = validateAgentConfig(baseConfig(join(dir, 'data'), zone));
      await mkdir(join(dir, 'data'));
      const db = AgentDatabase.open(join(dir, 'data', 'agent.db'));
      const logger = new MemoryLogger();
      const outbox = new EventOutbox(db);
      const notifier = new RecentNotices(logger);
      const store = new RequestStore(db);
      const event = { host: 'PC', zoneId: 'lgwan', channel: 'removableMedia' as const, fileName: 'a.txt', size: 1, action: 'sealed' as const };
      outbox.append({ ...event, osUser: 'nobody', fileName: 'mine.txt' });
      outbox.append({ ...event, osUser: 'root', fileName: 'roots.txt' });
      store.recordLocked('/home/other/x.xlsx', 'root', 'mynumber', null);
      const api = new LocalApiServer(
        agentHandlers({ policy: new LocalPolicySource(config.localPolicy!), outbox, store, notifier, watchedRoots: () => ['/media/stick'] }),
        logger,
      );
      const socketDir = join(dir, 'api');
      const nobody = { uid: 65534, osUser: 'nobody' };
      const root = { uid: 0, osUser: 'root' };
      try {
        const secrets = new LinuxUserSecrets(socketDir);
        await api.listenFor(nobody, socketPathFor('linux', socketDir, nobody), { token: await secrets.issue(nobody) });
        await api.listenFor(root, socketPathFor('linux', socketDir, root), { token: await secrets.issue(root) });
        const own = await callAs(65534, socketPathFor('linux', socketDir, nobody), [
          JSON.stringify({ id: 1, method: 'status', params: {} }),
          JSON.stringify({ id: 2, method: 'recentEvents', params: {} }),
          JSON.stringify({ id: 3, method: 'lockedFiles' }),
          JSON.stringify({ id: 4, method: 'submitRelease', params: { path: '/etc/passwd', reason: 'x', destination: 'y' } }),
          JSON.stringify({ id: 5, method: 'recentEvents', params: { limit: 'all' } }),
          JSON.stringify({ id: 6, method: 'format-disk' }),
          'not json',
        ]);
        const replies = own.trim().split('\n').map((line) => JSON.parse(line) as { id: number | null; result?: Record<string, unknown>; error?: { code: string } });
        const byId = new Map(replies.map((reply) => [reply.id, reply]));
        assert.equal(byId.get(1)?.result?.zone, 'lgwan');
        assert.equal(byId.get(1)?.result?.state, 'protected');
        assert.deepEqual((byId.get(2)?.result as unknown as { fileName: string }[]).map((e) => e.fileName), ['mine.txt'], 'only their own exports');
        assert.deepEqual(byId.get(3)?.result, [], 'not root\'s locked files');
        assert.equal(byId.get(4)?.error?.code, 'NO_POLICY_SERVER');
        assert.equal(byId.get(5)?.error?.code, 'PARAMS_INVALID');
        assert.equal(byId.get(6)?.error?.code, 'UNKNOWN_METHOD');
        assert.equal(byId.get(null)?.error?.code, 'MALFORMED_JSON');

        const intruder = await callAs(65534, socketPathFor('linux', socketDir, root), [JSON.stringify({ id: 1, method: 'recentEvents', params: {} })]);
        assert.equal(intruder, 'ERROR EACCES', 'another person\'s socket cannot even be reached');
      } finally {
        await api.close();
        db.close();
      }
    });
  });
});
