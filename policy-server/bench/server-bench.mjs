#!/usr/bin/env node
// Policy-server benchmark: one server process (the real CLI, `exitseal-server start`) on loopback, load
// from this process. Prints policy polls/s with ETag hits, event ingestion in events/s (batches of 100),
// and export-log search latency (p50/p95) over N stored events. Build first (npm run build).
//
//   node policy-server/bench/server-bench.mjs [--events 1000000] [--seconds 10] [--connections 50] [--json] [--profile DIR]
//
// --profile writes a V8 CPU profile of the server process (main and writer threads) into DIR.
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchZones, freePort, PASSWORD, ZONES } from './_fixtures.mjs';
import autocannon from 'autocannon';
import { initDataDir, openServices, createAgentCsr } from '../dist/src/index.js';
import { chainEvent, GENESIS_HASH } from '@exitseal/core/wire';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '50' }, json: { type: 'boolean', default: false }, profile: { type: 'string' } },
});
const STORED_EVENTS = Number(values.events);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const SEED_BATCH = 5000;
const SEED_IN_FLIGHT = 3;
const log = (line) => process.stderr.write(`${line}\n`);



let eventCounter = 0;
function syntheticEvent(prev, agentIndex, when, zoneId = ZONES[agentIndex % 3]) {
  const n = eventCounter++;
  return chainEvent(prev, {
    eventId: randomUUID(),
    occurredAt: new Date(when).toISOString(),
    host: `PC-${agentIndex}`,
    osUser: `user${agentIndex % 5000}`,
    zoneId,
    channel: n % 10 === 0 ? 'mail' : 'removableMedia',
    device: { vendorId: '0781', productId: '5581', serial: `SN${agentIndex % 20000}`, label: 'USB', mount: 'E:\\' },
    fileName: `report-${n % 100000}.xlsx`,
    size: 1000 + (n % 100000),
    sha256: createHash('sha256').update(String(n)).digest('hex'),
    fileId: randomUUID(),
    keyVersion: 1,
    action: n % 50 === 0 ? 'blocked' : 'sealed',
  });
}

/**
 * Seeds events through the real ingestion service (EventService.ingest: hash check, duplicate check, server
 * chain), server not running. Batches of SEED_BATCH events, SEED_IN_FLIGHT of them queued at once, so this
 * thread builds the next batches while the store's writer thread commits the previous ones.
 */
async function seed(dataDir) {
  const services = await openServices({ dataDir });
  try {
    await services.zones.save('bench', benchZones());
    await services.users.create('bench', { username: 'auditor', role: 'auditor', password: PASSWORD });
    await services.users.create('bench', { username: 'admin', role: 'admin', password: PASSWORD });
    const agents = [];
    for (let i = 0; i < 50; i++) {
      const agent = { id: randomUUID(), hostname: `PC-${i}`, zoneId: ZONES[i % 3], osName: 'Windows', agentVersion: '0.1.0', certFingerprint: randomUUID(), certSerial: '1', enrolledAt: new Date().toISOString(), revokedAt: null, lastSeenAt: null, lastBundleRevision: null, lastEventHash: null };
      const { token } = await services.enrolment.createToken('bench', { zoneId: agent.zoneId, validHours: 1 });
      await services.store.enrolment.consume(createHash('sha256').update(token).digest('hex'), new Date().toISOString(), agent);
      agents.push({ record: agent, prev: GENESIS_HASH });
    }
    const started = Date.now();
    const start = Date.parse('2024-01-01T00:00:00Z');
    const step = (365 * 24 * 3600_000) / Math.max(1, STORED_EVENTS);
    const inFlight = new Set();
    for (let done = 0; done < STORED_EVENTS; ) {
      const a = agents[(done / SEED_BATCH) % agents.length | 0];
      const events = [];
      for (let i = 0; i < SEED_BATCH && done < STORED_EVENTS; i++, done++) {
        const e = syntheticEvent(a.prev, agents.indexOf(a) + 100 * (done % 50), start + done * step);
        a.prev = e.hash;
        events.push(e);
      }
      const ingested = services.events.ingest(a.record, { events }).then((result) => {
        inFlight.delete(ingested);
        if (result.accepted !== events.length) throw new Error(`seeding: ${result.duplicates} events were taken for duplicates`);
      });
      inFlight.add(ingested);
      if (inFlight.size >= SEED_IN_FLIGHT) await Promise.race(inFlight);
      if (done % 100000 === 0) log(`  seeded ${done} events (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    await Promise.all(inFlight);
    return { seedSeconds: (Date.now() - started) / 1000 };
  } finally {
    await services.close();
  }
}

function call(base, agent, path, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(new URL(path, base), { method, agent, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'exitseal-bench-'));
  let server;
  try {
    const port = await freePort();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ listenHost: '127.0.0.1', listenPort: port, publicHostnames: ['127.0.0.1'], log: { level: 'warn' } }));
    await initDataDir({ dataDir });
    log(`seeding ${STORED_EVENTS} events...`);
    const { seedSeconds } = await seed(dataDir);

    const profiling = values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`];
    server = spawn(process.execPath, [...profiling, new URL('../bin/exitseal-server.js', import.meta.url).pathname, 'start', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      server.stdout.on('data', (d) => (String(d).includes('listening') ? resolve() : undefined));
      server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const base = `https://127.0.0.1:${port}`;
    const services = await openServices({ dataDir });
    const ca = services.identity.ca.certificatePem;
    await services.close();
    const plain = new Agent({ ca, keepAlive: true });

    // A person session (auditor) for the searches; an admin to enrol a real agent.
    const login = async (username) => {
      const r = await call(base, plain, '/api/v1/session', { method: 'POST', body: { username, password: PASSWORD } });
      return { cookie: String(r.headers['set-cookie']).split(';')[0], csrf: JSON.parse(r.text).csrfToken };
    };
    const admin = await login('admin');
    const tokenResponse = await call(base, plain, '/api/v1/enrolment-tokens', { method: 'POST', body: { zoneId: 'lgwan', validHours: 1 }, headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrf } });
    const { keyPem, csrPem } = createAgentCsr('bench-pc');
    const enrol = JSON.parse((await call(base, plain, '/agent/v1/enrol', { method: 'POST', body: { token: JSON.parse(tokenResponse.text).token, csrPem, hostname: 'bench-pc', osName: 'Linux', agentVersion: '0.1.0' } })).text);
    const tlsOptions = { ca, cert: enrol.certificatePem, key: keyPem };
    const agentHttps = new Agent({ ...tlsOptions, keepAlive: true });
    const etag = (await call(base, agentHttps, '/agent/v1/bundle')).headers.etag;

    // 1. Export-log search latency over the stored events (sequential, so each figure is one query's time).
    const auditor = await login('auditor');
    const queries = [];
    for (let i = 0; i < 100; i++) {
      queries.push(`/api/v1/events?zoneId=${ZONES[i % 3]}&limit=50`);
      queries.push(`/api/v1/events?osUser=user${i * 7}&limit=50`);
      queries.push(`/api/v1/events?action=blocked&limit=50&before=${Math.max(1, STORED_EVENTS - ((i * 5000) % STORED_EVENTS))}`);
      queries.push(`/api/v1/events?deviceSerial=SN${i * 13}&zoneId=${ZONES[(i * 13) % 3]}&limit=50`);
      queries.push(`/api/v1/events?fileName=report-${i * 11}&limit=50`);
      queries.push(`/api/v1/events?from=2024-0${1 + (i % 9)}-01T00:00:00Z&to=2024-0${1 + (i % 9)}-15T00:00:00Z&limit=50`);
    }
    const latencies = [];
    for (const path of queries) {
      const t0 = process.hrtime.bigint();
      const r = await call(base, plain, path, { headers: { cookie: auditor.cookie } });
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    latencies.sort((a, b) => a - b);

    // 2. Idle polls: every one an ETag hit (304).
    const polls = await run({ url: `${base}/agent/v1/bundle`, headers: { 'if-none-match': etag }, tlsOptions });

    // 3. Ingestion: batches of 100 fresh, chained events.
    let prev = GENESIS_HASH;
    const batchBody = () => {
      const events = [];
      for (let i = 0; i < 100; i++) {
        const e = syntheticEvent(prev, 7, Date.now(), 'lgwan');
        prev = e.hash;
        events.push(e);
      }
      return JSON.stringify({ events });
    };
    // Enough fresh batches for the saturating run and the steady run, so none is a duplicate.
    const prepared = Array.from({ length: 150 * SECONDS }, batchBody);
    let next = 0;
    const ingestOptions = {
      url: `${base}/agent/v1/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      tlsOptions,
      requests: [{ setupRequest: (req) => ({ ...req, body: prepared[next++ % prepared.length] }) }],
    };
    const ingest = await run({ ...ingestOptions, connections: 8 });

    // 4. The target's steady load at once: 25,000 agents polling every 60 s (417/s, ETag hits) while a burst
    //    of 2,000 events/s (20 batches of 100) arrives; latency under that load, not at saturation.
    const [steadyPolls, steadyIngest] = await Promise.all([
      run({ url: `${base}/agent/v1/bundle`, headers: { 'if-none-match': etag }, tlsOptions, connections: 20, overallRate: Math.round(25000 / 60) }),
      run({ ...ingestOptions, connections: 4, overallRate: 20 }),
    ]);

    const figures = {
      storedEvents: STORED_EVENTS,
      seedSeconds: Number(seedSeconds.toFixed(1)),
      search: { queries: latencies.length, p50ms: Number(percentile(latencies, 50).toFixed(1)), p95ms: Number(percentile(latencies, 95).toFixed(1)), maxMs: Number(latencies[latencies.length - 1].toFixed(1)) },
      polls: { perSecond: Math.round(polls.requests.average), non2xxOr304: polls.non2xx - polls['3xx'] || 0, p50ms: polls.latency.p50, p90ms: polls.latency.p90, p97_5ms: polls.latency.p97_5, errors: polls.errors },
      ingestion: {
        eventsPerSecond: Math.round(ingest.requests.average * 100),
        batchesPerSecond: Number(ingest.requests.average.toFixed(1)),
        p50ms: ingest.latency.p50,
        p90ms: ingest.latency.p90,
        p97_5ms: ingest.latency.p97_5,
        errors: ingest.errors,
        non2xx: ingest.non2xx,
      },
      steadyLoad: {
        polls: { perSecond: Math.round(steadyPolls.requests.average), p50ms: steadyPolls.latency.p50, p90ms: steadyPolls.latency.p90, p97_5ms: steadyPolls.latency.p97_5, errors: steadyPolls.errors },
        ingestion: { eventsPerSecond: Math.round(steadyIngest.requests.average * 100), p50ms: steadyIngest.latency.p50, p90ms: steadyIngest.latency.p90, p97_5ms: steadyIngest.latency.p97_5, errors: steadyIngest.errors, non2xx: steadyIngest.non2xx },
      },
      targets: { pollsPerSecond: Math.round(25000 / 60), eventBurstPerSecond: 2000, pollP95ms: 100, searchP95ms: 200 },
    };
    if (values.json) console.log(JSON.stringify(figures));
    else console.log(JSON.stringify(figures, null, 2));
    plain.destroy();
    agentHttps.destroy();
  } finally {
    if (server) {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
