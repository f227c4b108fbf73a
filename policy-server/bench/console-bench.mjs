#!/usr/bin/env node
// Admin console benchmark with N stored export events (default 1,000,000 over the last 60 days): time to
// first render of the export-log page and of filtered pages in Debian Chromium (navigation to rows on
// screen, p50/p95), the same pages' API latency, the dashboard's first (uncached) computation, and the
// CSV export rate of every row. One server process (the real CLI); build first (npm run build).
//
//   node policy-server/bench/console-bench.mjs [--events 1000000] [--runs 20] [--json] [--data DIR] [--only 'NAME|NAME...']
//
// --data DIR keeps the seeded data directory and reuses it on the next run with the same --events (seeding
// 1M events takes minutes); --only measures just the named pages. Each page's first render is also split
// into where its time went (median of the runs, ms since navigation start): HTML, script, the session and
// events calls, rows on screen. --compare PACKAGE_DIR (another build of policy-server, e.g. a copy of the
// last commit's dist, bin and web/dist) runs its server too on the same data and alternates the page visits
// between the two, so a change is measured against its baseline under the same machine load.
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URLSearchParams } from 'node:url';
import { parseArgs } from 'node:util';
import { benchZones, freePort, PASSWORD, ZONES } from './_fixtures.mjs';
import { chromium } from 'playwright-core';
import { initDataDir, openServices } from '../dist/src/index.js';
import { chainEvent, GENESIS_HASH } from '@exitseal/core/wire';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '20' }, json: { type: 'boolean', default: false }, data: { type: 'string' }, only: { type: 'string' }, compare: { type: 'string' } },
});
const STORED_EVENTS = Number(values.events);
const RUNS = Number(values.runs);
const DAYS = 60;
const AGENTS = 300;
const ACTIONS = ['sealed', 'sealed', 'sealed', 'sealed', 'sealed', 'sealed', 'sealed', 'blocked', 'released-plaintext', 'failed'];
const CHROMIUM = '/usr/bin/chromium';
const log = (line) => process.stderr.write(`${line}\n`);



/** Seeds through the real ingestion service (hash-checked, chained, 1000 per transaction); server not running. */
async function seed(dataDir, now) {
  // The server stamps each row with the time it arrives: a clock that follows the seeded events makes the
  // store look like 60 days of real use (events arriving a minute after they happen), not one bulk load.
  let clockTime = now;
  const services = await openServices({ dataDir, clock: { now: () => new Date(clockTime) } });
  try {
    await services.zones.save('bench', benchZones());
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

/**
 * Runs in the page once its rows are on screen: when the HTML and the script arrived, when the session and
 * events calls started and ended, and now (rows on screen), in ms since the navigation started.
 */
function timeline() {
  const { performance } = globalThis;
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const find = (test) => resources.find((r) => test(new URL(r.name).pathname));
  const script = find((path) => /\/assets\/index-.*\.js$/.test(path));
  const session = find((path) => path === '/api/v1/session');
  const events = find((path) => path === '/api/v1/events');
  const at = (v) => (v === undefined ? undefined : Math.round(v));
  return {
    html: at(nav?.responseEnd),
    script: at(script?.responseEnd),
    sessionStart: at(session?.startTime),
    sessionEnd: at(session?.responseEnd),
    eventsStart: at(events?.startTime),
    eventsEnd: at(events?.responseEnd),
    rowsInDom: at(globalThis.__benchMarks?.rowsInDom),
    rowsPainted: at(globalThis.__benchMarks?.rowsPainted),
    rowsSeen: at(performance.now()),
  };
}

/** Starts `exitseal-server start` on the data directory and waits until it listens. */
async function startServer(bin, dataDir) {
  const child = spawn(process.execPath, [bin, 'start', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => (String(d).includes('listening') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`server ${bin} exited with ${code}`)));
  });
  return child;
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: Math.round(at(50)), p95: Math.round(at(95)), max: Math.round(sorted[sorted.length - 1]) };
}

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const keep = values.data !== undefined;
  const dataDir = values.data ?? mkdtempSync(join(tmpdir(), 'exitseal-console-bench-'));
  const seedFile = join(dataDir, 'bench-seed.json');
  let server;
  let compareServer;
  let browser;
  try {
    const port = await freePort();
    const writeConfig = (listenPort = port) => writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ listenHost: '127.0.0.1', listenPort, publicHostnames: ['127.0.0.1'], log: { level: 'warn' } }));
    let now;
    let seedSeconds;
    let ca;
    if (keep && existsSync(seedFile)) {
      const seeded = JSON.parse(readFileSync(seedFile, 'utf8'));
      if (seeded.events !== STORED_EVENTS) throw new Error(`${dataDir} holds ${seeded.events} events, not ${STORED_EVENTS}: use another --data`);
      ({ now, seedSeconds, ca } = seeded);
      writeConfig();
      log(`reusing ${STORED_EVENTS} events seeded in ${dataDir}`);
    } else {
      mkdirSync(dataDir, { recursive: true });
      writeConfig();
      await initDataDir({ dataDir });
      now = Date.now();
      log(`seeding ${STORED_EVENTS} events over ${DAYS} days...`);
      ({ seedSeconds, ca } = await seed(dataDir, now));
      if (keep) writeFileSync(seedFile, JSON.stringify({ events: STORED_EVENTS, now, seedSeconds, ca }));
    }

    server = await startServer(new URL('../bin/exitseal-server.js', import.meta.url).pathname, dataDir);
    const base = `https://127.0.0.1:${port}`;
    // --compare: a second server, another build of this package, on the same data (config.json is read at start).
    let compareBase;
    if (values.compare !== undefined) {
      const comparePort = await freePort();
      writeConfig(comparePort);
      compareServer = await startServer(join(values.compare, 'bin', 'exitseal-server.js'), dataDir);
      compareBase = `https://127.0.0.1:${comparePort}`;
    }
    const https = new Agent({ ca, keepAlive: true });
    const login = await call(base, https, '/api/v1/session', { method: 'POST', body: { username: 'auditor', password: PASSWORD } });
    const sessionId = String(login.headers['set-cookie']).split(';')[0].split('=')[1];
    const cookie = `exitseal_session=${sessionId}`;

    // The pages measured: the log as it opens, and filters an auditor uses (one device on one day; one user; a zone on a day a month ago).
    const day = (daysAgo) => new Date(now - daysAgo * 86_400_000).toISOString().slice(0, 10);
    // A device that was in use that day, so the page measured shows rows (a fixed serial may have none then).
    const thatDay = new URLSearchParams({ from: `${day(3)}T00:00:00Z`, to: `${day(3)}T23:59:59Z`, limit: '1' });
    const busyDevice = JSON.parse((await call(base, https, `/api/v1/events?${thatDay}`, { headers: { cookie } })).text).events[0]?.deviceSerial ?? 'SN123';
    const allPages = [
      ['log, no filter', {}],
      ['device + one day', { deviceSerial: busyDevice, from: day(3), to: day(3) }],
      ['user', { osUser: 'user42' }],
      ['zone + one day, 30 days back', { zoneId: 'lgwan', from: day(30), to: day(30) }],
      ['action blocked + host', { action: 'blocked', host: 'PC-0042' }],
      ['device label', { deviceLabel: 'USB-7' }],
      ['sorted by size, largest first', { sort: 'size', order: 'desc' }],
      ['zone sorted by file name', { zoneId: 'lgwan', sort: 'fileName', order: 'asc' }],
      ['one day sorted by user', { from: day(3), to: day(3), sort: 'osUser', order: 'asc' }],
      ['oldest first by time', { sort: 'occurredAt', order: 'asc' }],
    ];
    const only = values.only?.split('|');
    const pages = only === undefined ? allPages : allPages.filter(([name]) => only.includes(name));
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

    // With --only, just the pages: the dashboard and the CSV of every row are measured by a full run.
    const full = only === undefined;
    const dashboard = full ? await call(base, https, '/api/v1/console/dashboard', { headers: { cookie } }) : undefined;
    if (dashboard !== undefined && dashboard.status !== 200) throw new Error(`dashboard: ${dashboard.status}`);
    const dashboardCached = full ? await call(base, https, '/api/v1/console/dashboard', { headers: { cookie } }) : undefined;

    // Time to first render: a new tab navigates to the page and waits until the first row is on screen.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, timezoneId: 'UTC', locale: 'ja-JP' });
    await context.addCookies([{ name: 'exitseal_session', value: sessionId, url: base, secure: true, httpOnly: true, sameSite: 'Strict' }]);
    // Marks, in the page itself, when the first row (or the no-rows note) enters the DOM and when the frame after
    // the one that painted it begins (two animation frames later: style, layout and paint of the page are done):
    // the first render without the driver's own latency (opening the tab, noticing the selector), which the
    // wall-clock figure includes.
    await context.addInitScript(() => {
      const { document, performance, requestAnimationFrame } = globalThis;
      const marks = (globalThis.__benchMarks = {});
      new globalThis.MutationObserver((_, observer) => {
        if (document.querySelector('table.log tbody tr, [data-testid=no-rows]') === null) return;
        marks.rowsInDom = performance.now();
        observer.disconnect();
        requestAnimationFrame(() => requestAnimationFrame(() => (marks.rowsPainted = performance.now())));
      }).observe(document, { childList: true, subtree: true });
    });
    const targets = compareBase === undefined ? [base] : [base, compareBase];
    for (const target of targets) {
      const warm = await context.newPage();
      await warm.goto(`${target}/console/#/log`);
      await warm.waitForSelector('table.log tbody tr');
      await warm.close();
    }
    const firstRender = async (target, filter, into) => {
      const page = await context.newPage();
      const started = process.hrtime.bigint();
      await page.goto(`${target}/console/#/log?${new URLSearchParams(filter)}`);
      await page.waitForSelector('table.log tbody tr, [data-testid=no-rows]');
      into.samples.push(Number(process.hrtime.bigint() - started) / 1e6);
      into.phases.push(await page.evaluate(timeline));
      await page.close();
    };
    const medians = (phases) =>
      Object.fromEntries(
        Object.keys(phases[0]).map((key) => {
          const values = phases.map((p) => p[key]).filter((v) => v !== undefined);
          return [key, values.length === 0 ? '-' : stats(values).p50];
        }),
      );
    const render = {};
    const breakdown = {};
    const compared = { firstRenderMs: {}, firstRenderBreakdownMs: {} };
    for (const [name, filter] of pages) {
      const measured = targets.map(() => ({ samples: [], phases: [] }));
      for (let i = 0; i < RUNS; i++) {
        // With two servers, their visits alternate (and which goes first too), so both see the same machine load.
        const order = i % 2 === 0 ? targets.map((_, k) => k) : targets.map((_, k) => k).reverse();
        for (const k of order) await firstRender(targets[k], filter, measured[k]);
      }
      const inPage = (m) => stats(m.phases.map((p) => p.rowsPainted).filter((v) => v !== undefined));
      render[name] = { ...stats(measured[0].samples), inPage: inPage(measured[0]) };
      breakdown[name] = medians(measured[0].phases);
      if (measured[1] !== undefined) {
        compared.firstRenderMs[name] = { ...stats(measured[1].samples), inPage: inPage(measured[1]) };
        compared.firstRenderBreakdownMs[name] = medians(measured[1].phases);
      }
    }

    // CSV of every stored row.
    const csv = full ? await call(base, https, '/api/v1/console/events.csv', { headers: { cookie } }) : undefined;
    if (csv !== undefined && csv.status !== 200) throw new Error(`csv: ${csv.status}`);
    const csvRows = csv === undefined ? 0 : csv.lines - 1;
    if (csv !== undefined && csvRows !== STORED_EVENTS) throw new Error(`csv has ${csvRows} rows, expected ${STORED_EVENTS}`);

    const result = {
      storedEvents: STORED_EVENTS,
      seedSeconds: Math.round(seedSeconds),
      firstRenderMs: render,
      firstRenderBreakdownMs: breakdown,
      ...(compareBase === undefined ? {} : { compare: { package: values.compare, ...compared } }),
      apiMs: api,
      dashboardMs: dashboard && { uncached: Math.round(dashboard.ms), cached: Math.round(dashboardCached.ms), eventsInWindow: JSON.parse(dashboard.text).eventsInWindow },
      csv: csv && { rows: csvRows, seconds: +(csv.ms / 1000).toFixed(1), rowsPerSecond: Math.round(csvRows / (csv.ms / 1000)), megabytes: +(csv.bytes / 1e6).toFixed(1) },
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`console benchmark, ${STORED_EVENTS.toLocaleString()} stored events (seeded in ${result.seedSeconds} s), ${RUNS} runs each`);
      console.log('time to first render of the export-log page in Chromium (opening a tab on it to its first row on screen, as the driver sees it; in the page: from navigation start to the frame after the one that painted the first row), ms:');
      for (const [name, s] of Object.entries(render)) {
        console.log(`  ${name.padEnd(32)} p50 ${s.p50}  p95 ${s.p95}  max ${s.max}   (in the page: p50 ${s.inPage.p50}, p95 ${s.inPage.p95}; API p50 ${api[name].p50}, p95 ${api[name].p95}; ${api[name].rows} rows on the page)`);
      }
      console.log('where the first render went (median ms since navigation start):');
      for (const [name, b] of Object.entries(breakdown)) console.log(`  ${name.padEnd(32)} ${Object.entries(b).map(([k, v]) => `${k} ${v}`).join('  ')}`);
      if (compareBase !== undefined) {
        console.log(`the same pages from ${values.compare}, visits alternating with the above:`);
        for (const [name, s] of Object.entries(compared.firstRenderMs)) console.log(`  ${name.padEnd(32)} p50 ${s.p50}  p95 ${s.p95}  max ${s.max}   (in the page: p50 ${s.inPage.p50}, p95 ${s.inPage.p95})`);
        for (const [name, b] of Object.entries(compared.firstRenderBreakdownMs)) console.log(`  ${name.padEnd(32)} ${Object.entries(b).map(([k, v]) => `${k} ${v}`).join('  ')}`);
      }
      if (result.dashboardMs) console.log(`dashboard: ${result.dashboardMs.uncached} ms uncached over ${result.dashboardMs.eventsInWindow.toLocaleString()} events in its 14 days, ${result.dashboardMs.cached} ms cached`);
      if (result.csv) console.log(`CSV export: ${csvRows.toLocaleString()} rows, ${result.csv.megabytes} MB in ${result.csv.seconds} s = ${result.csv.rowsPerSecond.toLocaleString()} rows/s`);
    }
  } finally {
    await browser?.close();
    server?.kill('SIGTERM');
    compareServer?.kill('SIGTERM');
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
