#!/usr/bin/env node
// `npm start`: the whole product on one PC in a minute. Starts the policy server on its embedded default
// (SQLite in ./.exitseal-dev/server) with the reference customer's zones (My Number / LGWAN / Internet) and
// demo people, enrols a local agent to it, and runs the agent on this PC's removable media and on a demo
// outbound folder. Prints where everything is; Ctrl-C stops both. Run again: everything is reused.
//   node scripts/start.mjs [--data DIR] [--port N]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setInterval, clearInterval } from 'node:timers';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({ options: { data: { type: 'string' }, port: { type: 'string' } } });
const dataDir = resolve(values.data ?? join(root, '.exitseal-dev'));
const port = Number(values.port ?? process.env.EXITSEAL_DEV_PORT ?? 8443);
const serverDir = join(dataDir, 'server');
const agentDir = join(dataDir, 'agent');
const outbound = join(dataDir, 'outbound');
const inbox = join(dataDir, 'inbox');
const DEMO_PASSWORD = 'exitseal-demo-password';
const AGENT_BIN = join(root, 'agent', 'bin', 'exitseal-agent.js');

for (const built of ['policy-server/dist/src/index.js', 'agent/dist/src/main.js']) {
  if (!existsSync(join(root, built))) {
    console.error(`${built} is missing: run "npm run build" first (npm start does).`);
    process.exit(1);
  }
}
const { initDataDir, startServer } = await import(join(root, 'policy-server/dist/src/index.js'));

function zonePolicy(openableOrigins) {
  return {
    channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'block' },
    openableOrigins,
    devices: { allow: [], deny: [] },
    offline: { maxHours: 72, after: 'seal-everything' },
    approvals: { decrypt: { steps: ['approver', 'admin'] }, release: { steps: ['approver', 'admin'] } },
  };
}

/** The customer's matrix. This PC is put in LGWAN by its loopback address (every PC has one): a demo only. */
const DEMO_ZONES = [
  { zone: { id: 'lgwan', name: 'LGWAN接続系 (this PC in the demo)', priority: 1, fallback: false, detection: { cidrs: ['10.2.0.0/16', '127.0.0.0/8'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['lgwan', 'internet']) },
  { zone: { id: 'mynumber', name: 'マイナンバー系', priority: 2, fallback: false, detection: { cidrs: ['10.1.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['mynumber', 'lgwan', 'internet']) },
  { zone: { id: 'internet', name: 'インターネット接続系', priority: 3, fallback: false, detection: { cidrs: ['192.168.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: zonePolicy(['lgwan', 'internet']) },
];

const firstRun = !existsSync(join(serverDir, 'exitseal.db'));
if (firstRun) await initDataDir({ dataDir: serverDir, overrides: { listenHost: '127.0.0.1', listenPort: port } });
const server = await startServer({ dataDir: serverDir });
const { services } = server;
if (firstRun) {
  await services.zones.save('npm-start', [...DEMO_ZONES, ...(await services.zones.list()).filter((entry) => entry.zone.fallback)]);
  for (const [username, role] of [['admin', 'admin'], ['approver', 'approver'], ['auditor', 'auditor'], ['tanaka', 'staff']]) {
    await services.users.create('npm-start', { username, role, password: DEMO_PASSWORD });
  }
}

for (const dir of [agentDir, outbound, inbox]) mkdirSync(dir, { recursive: true });
const agentConfig = join(agentDir, 'agent.json');
writeFileSync(
  agentConfig,
  `${JSON.stringify(
    {
      dataDir: join(agentDir, 'data'),
      logging: { level: 'info', console: false },
      media: { pollIntervalMs: 250, settleMs: 200 },
      inboundFolders: [inbox],
      outboundFolders: [outbound],
      server: { pollSeconds: 5, uploadIntervalMs: 500, retryMaxSeconds: 30 },
      network: { pollMs: 5000 },
      localApi: { socketDir: join(agentDir, 'api') },
    },
    null,
    2,
  )}\n`,
);
if (!existsSync(join(agentDir, 'data', 'enrolment', 'identity.json'))) {
  const caFile = join(agentDir, 'server-ca.pem');
  writeFileSync(caFile, services.identity.ca.certificatePem);
  const { token } = await services.enrolment.createToken('npm-start', { zoneId: 'lgwan', validHours: 1 });
  // Asynchronous: the server answering the enrolment runs in this very process.
  const enrol = spawn(process.execPath, [AGENT_BIN, 'enrol', '--config', agentConfig, '--server', server.url, `--token=${token}`, '--ca-file', caFile], { stdio: 'inherit' });
  const code = await new Promise((done) => enrol.once('exit', done));
  if (code !== 0) {
    await server.close();
    console.error('enrolling the demo agent failed (see above)');
    process.exit(1);
  }
}

let stopping = false;
let watcher;
const agent = spawn(process.execPath, [AGENT_BIN, 'run', '--config', agentConfig], { stdio: ['ignore', 'inherit', 'inherit'] });
let agentExited = false;
agent.once('exit', (code) => {
  agentExited = true;
  if (!stopping) {
    console.error(`the agent exited (${code}); see ${join(agentDir, 'data', 'logs', 'agent.log')}`);
    void stop(1);
  }
});

// The banner promises that a dropped file gets sealed: print it only once the agent watches.
const agentLog = join(agentDir, 'data', 'logs', 'agent.log');
const logBefore = existsSync(agentLog) ? readFileSync(agentLog, 'utf8').length : 0;
for (let waited = 0; !agentExited; waited += 100) {
  if (existsSync(agentLog) && readFileSync(agentLog, 'utf8').slice(logBefore).includes('"agent ready"')) break;
  if (waited > 120_000) {
    console.error(`the agent did not get ready in 2 minutes; see ${agentLog}`);
    await stop(1);
  }
  await new Promise((done) => setTimeout(done, 100));
}

console.log(`
ExitSeal is running (demo)
  Policy server     ${server.url}   (admin console; the browser will warn: its CA is the server's own)
  Sign in as        admin / approver / auditor / tanaka, password "${DEMO_PASSWORD}"
  Server data       ${serverDir}
  Agent             zone LGWAN (this PC's loopback address is in the demo LGWAN zone); data ${join(agentDir, 'data')}
  Agent log         ${join(agentDir, 'data', 'logs', 'agent.log')}
  Outbound folder   ${outbound}
  Inbound folder    ${inbox}
  Removable media   watched: insert a USB stick and copy a file to it.
Try it: echo hello > "${join(outbound, 'hello.txt')}" and, a moment later, head -c 64 "${join(outbound, 'hello.txt')}"
        (it starts with "age-encryption.org/v1": sealed; its name is unchanged). Each export appears below.
Ctrl-C stops both.
`);

let lastSeq = (await services.events.search({ limit: 1 })).events[0]?.seq ?? 0;
watcher = setInterval(() => {
  void services.events.search({ limit: 100 }).then(({ events }) => {
    for (const event of events.filter((e) => e.seq > lastSeq).reverse()) {
      console.log(`[export] ${event.action} ${event.fileName} (${event.channel}${event.deviceLabel ? `, ${event.deviceLabel}` : ''}, zone ${event.zoneId}, by ${event.osUser})`);
      lastSeq = Math.max(lastSeq, event.seq);
    }
  });
}, 1000);

async function stop(code) {
  if (stopping) return;
  stopping = true;
  clearInterval(watcher);
  if (!agentExited) {
    agent.kill('SIGTERM');
    await new Promise((done) => agent.once('exit', done));
  }
  await server.close();
  console.log('stopped');
  process.exit(code);
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));
