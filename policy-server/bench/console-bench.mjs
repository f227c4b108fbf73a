#!/usr/bin/env node
// Admin console benchmark with N stored export events (default 1,000,000 over the last 60 days): time to
// first render of the export-log page and of filtered pages in Debian Chromium (navigation to rows on
// screen, p50/p95), the same pages' API latency, the dashboard's first (uncached) computation, and the
// CSV export rate of every row. One server process (the real CLI); build first (npm run build).
//
//   node policy-server/bench/console-bench.mjs [--events 1000000] [--runs 20] [--json]
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URLSearchParams } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { initDataDir, openServices } from '../dist/src/index.js';
import { chainEvent, GENESIS_HASH } from '@exitseal/core/wire';

const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '20' }, json: { type: 'boolean', default: false } } });
const STORED_EVENTS = Number(values.events);
const RUNS = Number(values.runs);
const DAYS = 60;
const AGENTS = 300;
const ZONES = ['mynumber', 'lgwan', 'internet'];
const ACTIONS = ['sealed', 'sealed', 'sealed', 'sealed', 'sealed', 'sealed', 'sealed', 'blocked', 'released-plaintext', 'failed'];
const PASSWORD = 'benchmark password 1';
const CHROMIUM = '/usr/bin/chromium';
const log = (line) => process.stderr.write(`${line}\n`);

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function zones() {
  const policy = (origins) => ({
    channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'seal' },
    openableOrigins: origins,
    devices: { allow: [], deny: [] },
    offline: { maxHours: 72, after: 'seal-everything' },
    approvals: { decrypt: { steps: ['approver', 'admin'] }, release: { steps: ['approver', 'admin'] } },
  });
  return [
    { zone: { id: 'mynumber', name: 'マイナンバー系', priority: 1, fallback: false, detection: { cidrs: ['10.1.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: policy(ZONES) },
    { zone: { id: 'lgwan', name: 'LGWAN接続系', priority: 2, fallback: false, detection: { cidrs: ['10.2.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: policy(['lgwan', 'internet']) },
    { zone: { id: 'internet', name: 'インターネット接続系', priority: 3, fallback: false, detection: { cidrs: ['192.168.0.0/16'], dnsSuffixes: [], gateways: [] } }, policy: policy(['lgwan', 'internet']) },
  ];
}

/** Seeds through the real ingestion service (hash-checked, chained, 1000 per transaction); server not running. */
async function seed(dataDir, now) {
  // The server stamps each row with the time it arrives: a clock that follows the seeded events makes the
  // store look like 60 days of real use (events arriving a minute after they happen), not one bulk load.
  let clockTime = now;
  const services = await openServices({ dataDir, clock: { now: () => new Date(clockTime) } });
  try {
    await services.zones.save('bench', zones());
    await services.users.create('bench', { username: 'auditor', role: 'auditor', password: PASSWORD });
    const agents = [];
    for (let i = 0; i < AGENTS; i++) {
      const record = { id: randomUUID(), hostname: `PC-${String(i).padStart(4, '0')}`, zoneId: ZONES[i % 3], osName: 'Windows 11', agentVersion: '0.1.0', certFingerprint: randomUUID(), certSerial: String(i), enrolledAt: new Date(now).toISOString(), revokedAt: null, lastSeenAt: null, lastBundleRevision: null, lastEventHash: null };
      const { token } = await services.enrolment.createToken('bench', { zoneId: record.zoneId, validHours: 1 });
      await services.store.enrolment.consume(createHash('sha256').update(token).digest('hex'), new Date(now).toISOString(), record);
      agents.push({ record, index: i, prev: GENESIS_HASH });
    }
    const started = Date.now();
    const first = now - DAYS * 86_400_000;
    const step = (DAYS * 86_400_000) / STORED_EVENTS;
    for (let done = 0; done < STORED_EVENTS; ) {
      const agent = agents[Math.floor(done / 1000) % AGENTS];
      const events = [];
      for (let i = 0; i < 1000 && done < STORED_EVENTS; i++, done++) {
        const e = chainEvent(agent.prev, {
          eventId: randomUUID(),
          occurredAt: new Date(first + done * step).toISOString(),
          host: agent.record.hostname,
          osUser: `user${(agent.index * 7 + i) % 3000}`,
          zoneId: agent.record.zoneId,
          channel: done % 10 === 0 ? 'mail' : 'removableMedia',
          device: { vendorId: '0781', productId: '5581', serial: `SN${(agent.index * 3 + (i % 3)) % 900}`, label: `USB-${agent.index % 50}`, mount: 'E:\\' },
          fileName: `報告書-${done % 100000}.xlsx`,
          size: 1000 + (done % 100000),
          sha256: createHash('sha256').update(String(done)).digest('hex'),
          fileId: randomUUID(),
          keyVersion: 1,
          action: ACTIONS[done % ACTIONS.length],
        });
        agent.prev = e.hash;
        events.push(e);
      }
      clockTime = Math.min(now, first + done * step + 60_000);
      await services.events.ingest(agent.record, { events });
      if (done % 100000 === 0) log(`  seeded ${done} events (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
    return { seedSeconds: (Date.now() - started) / 1000, ca: services.identity.ca.certificatePem };
  } finally {
    await services.close();
  }
}

function call(base, agent, path, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = process.hrtime.bigint();
    const req = request(new URL(path, base), { method, agent, headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...headers } }, (res) => {
      let bytes = 0;
      let lines = 0;
      const chunks = [];
      res.on('data', (c) => {
        bytes += c.length;
        for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
        if (chunks.length < 64) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString(), bytes, lines, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: Math.round(at(50)), p95: Math.round(at(95)), max: Math.round(sorted[sorted.length - 1]) };
}

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const dataDir = mkdtempSync(join(tmpdir(), 'exitseal-console-bench-'));
  let server;
  let browser;
  try {
    const port = await freePort();
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ listenHost: '127.0.0.1', listenPort: port, publicHostnames: ['127.0.0.1'], log: { level: 'warn' } }));
    await initDataDir({ dataDir });
    const now = Date.now();
    log(`seeding ${STORED_EVENTS} events over ${DAYS} days...`);
    const { seedSeconds, ca } = await seed(dataDir, now);

    server = spawn(process.execPath, [new URL('../bin/exitseal-server.js', import.meta.url).pathname, 'start', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      server.stdout.on('data', (d) => (String(d).includes('listening') ? resolve() : undefined));
      server.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const base = `https://127.0.0.1:${port}`;
    const https = new Agent({ ca, keepAlive: true });
    const login = await call(base, https, '/api/v1/session', { method: 'POST', body: { username: 'auditor', password: PASSWORD } });
    const sessionId = String(login.headers['set-cookie']).split(';')[0].split('=')[1];
    const cookie = `exitseal_session=${sessionId}`;

    // The pages measured: the log as it opens, and filters an auditor uses (one device on one day; one user; a zone on a day a month ago).
    const day = (daysAgo) => new Date(now - daysAgo * 86_400_000).toISOString().slice(0, 10);
    const pages = [
      ['log, no filter', {}],
      ['device + one day', { deviceSerial: 'SN123', from: day(3), to: day(3) }],
      ['user', { osUser: 'user42' }],
      ['zone + one day, 30 days back', { zoneId: 'lgwan', from: day(30), to: day(30) }],
      ['action blocked + host', { action: 'blocked', host: 'PC-0042' }],
      ['device label', { deviceLabel: 'USB-7' }],
      ['sorted by size, largest first', { sort: 'size', order: 'desc' }],
      ['zone sorted by file name', { zoneId: 'lgwan', sort: 'fileName', order: 'asc' }],
      ['one day sorted by user', { from: day(3), to: day(3), sort: 'osUser', order: 'asc' }],
      ['oldest first by time', { sort: 'occurredAt', order: 'asc' }],
    ];
    const apiQuery = (filter) => {
      const q = new URLSearchParams({ ...filter, limit: '50' });
      if (filter.from) q.set('from', `${filter.from}T00:00:00Z`);
      if (filter.to) q.set('to', new Date(Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000).toISOString());
      return `/api/v1/events?${q}`;
    };

    const api = {};
    for (const [name, filter] of pages) {
      const samples = [];
      for (let i = 0; i < RUNS; i++) {
        const r = await call(base, https, apiQuery(filter), { headers: { cookie } });
        if (r.status !== 200) throw new Error(`${name}: ${r.status} ${r.text}`);
        samples.push(r.ms);
      }
      api[name] = { ...stats(samples), rows: JSON.parse((await call(base, https, apiQuery(filter), { headers: { cookie } })).text).events.length };
    }

    const dashboard = await call(base, https, '/api/v1/console/dashboard', { headers: { cookie } });
    if (dashboard.status !== 200) throw new Error(`dashboard: ${dashboard.status}`);
    const dashboardCached = await call(base, https, '/api/v1/console/dashboard', { headers: { cookie } });

    // Time to first render: a new tab navigates to the page and waits until the first row is on screen.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, timezoneId: 'UTC', locale: 'ja-JP' });
    await context.addCookies([{ name: 'exitseal_session', value: sessionId, url: base, secure: true, httpOnly: true, sameSite: 'Strict' }]);
    const warm = await context.newPage();
    await warm.goto(`${base}/console/#/log`);
    await warm.waitForSelector('table.log tbody tr');
    await warm.close();
    const render = {};
    for (const [name, filter] of pages) {
      const samples = [];
      for (let i = 0; i < RUNS; i++) {
        const page = await context.newPage();
        const started = process.hrtime.bigint();
        await page.goto(`${base}/console/#/log?${new URLSearchParams(filter)}`);
        await page.waitForSelector('table.log tbody tr, [data-testid=no-rows]');
        samples.push(Number(process.hrtime.bigint() - started) / 1e6);
        await page.close();
      }
      render[name] = stats(samples);
    }

    // CSV of every stored row.
    const csv = await call(base, https, '/api/v1/console/events.csv', { headers: { cookie } });
    if (csv.status !== 200) throw new Error(`csv: ${csv.status}`);
    const csvRows = csv.lines - 1;
    if (csvRows !== STORED_EVENTS) throw new Error(`csv has ${csvRows} rows, expected ${STORED_EVENTS}`);

    const result = {
      storedEvents: STORED_EVENTS,
      seedSeconds: Math.round(seedSeconds),
      firstRenderMs: render,
      apiMs: api,
      dashboardMs: { uncached: Math.round(dashboard.ms), cached: Math.round(dashboardCached.ms), eventsInWindow: JSON.parse(dashboard.text).eventsInWindow },
      csv: { rows: csvRows, seconds: +(csv.ms / 1000).toFixed(1), rowsPerSecond: Math.round(csvRows / (csv.ms / 1000)), megabytes: +(csv.bytes / 1e6).toFixed(1) },
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`console benchmark, ${STORED_EVENTS.toLocaleString()} stored events (seeded in ${result.seedSeconds} s), ${RUNS} runs each`);
      console.log('time to first render of the export-log page in Chromium (navigation to first row on screen), ms:');
      for (const [name, s] of Object.entries(render)) console.log(`  ${name.padEnd(32)} p50 ${s.p50}  p95 ${s.p95}  max ${s.max}   (API p50 ${api[name].p50}, p95 ${api[name].p95}; ${api[name].rows} rows on the page)`);
      console.log(`dashboard: ${result.dashboardMs.uncached} ms uncached over ${result.dashboardMs.eventsInWindow.toLocaleString()} events in its 14 days, ${result.dashboardMs.cached} ms cached`);
      console.log(`CSV export: ${csvRows.toLocaleString()} rows, ${result.csv.megabytes} MB in ${result.csv.seconds} s = ${result.csv.rowsPerSecond.toLocaleString()} rows/s`);
    }
  } finally {
    await browser?.close();
    server?.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
