#!/usr/bin/env node
// Plaintext window and footprint of the sealing agent on a "stick".
//   node agent/bench/plaintext-window.mjs [--dir DIR] [--quick] [--footprint-only]
// Where root, losetup, mkfs.exfat and exfat-fuse exist, the stick is an exFAT image on a loop device mounted
// through FUSE (as in the e2e tests); otherwise a declared directory under DIR (say which in the output).
// Measures, with a real `exitseal-agent run` process:
//   - plaintext window: from close() of a file written on the stick to the sealed file in place (p50/p95)
//     for 4 KiB, 1 MiB and 100 MiB files;
//   - sealing throughput against plain `cp` of the same data to the same stick;
//   - agent CPU and RSS idle with 10,000 files on the mounted stick, and peak RSS while sealing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { dir: { type: 'string' }, quick: { type: 'boolean' }, 'footprint-only': { type: 'boolean' } } });
const AGENT_BIN = new URL('../bin/exitseal-agent.js', import.meta.url).pathname;
const MAGIC = Buffer.from('age-encryption.org/v1\n');
const SETTLE_MS = 200;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function isSealed(path) {
  let handle;
  try {
    handle = await open(path, 'r');
    const head = Buffer.alloc(MAGIC.length);
    await handle.read(head, 0, head.length, 0);
    return head.equals(MAGIC);
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

async function waitSealed(path, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await isSealed(path))) {
    if (Date.now() > deadline) throw new Error(`${path} was not sealed within ${timeoutMs} ms`);
    await sleep(2);
  }
}

/** Writes `data` to `path`, closes it, and returns the moment of the close. */
async function writeAndClose(path, data) {
  const handle = await open(path, 'w');
  for (let offset = 0; offset < data.length; offset += 4 * 1024 * 1024) await handle.write(data.subarray(offset, Math.min(data.length, offset + 4 * 1024 * 1024)));
  await handle.close();
  return performance.now();
}

function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return { ticks, rssMiB: rssKiB / 1024 };
}

const work = values.dir ?? (await mkdtemp(join(tmpdir(), 'exitseal-bench-')));
const mountPoint = join(work, 'stick');
const useLoop = process.getuid?.() === 0 && ['losetup', 'mkfs.exfat', 'mount.exfat-fuse', 'age-keygen'].every(has) && existsSync('/dev/fuse');
let loopDevice;
let agent;

async function cleanup() {
  if (agent && agent.exitCode === null) {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('exit', resolve));
  }
  if (loopDevice) {
    spawnSync('umount', [mountPoint]);
    spawnSync('losetup', ['-d', loopDevice]);
  }
  if (!values.dir) await rm(work, { recursive: true, force: true });
}

try {
  await mkdir(mountPoint, { recursive: true });
  const identityFile = join(work, 'zone.key');
  execFileSync(process.execPath, [new URL('../bin/exitseal.js', import.meta.url).pathname, 'keygen', '-o', identityFile], { stdio: 'ignore' });
  const recipient = /age1[0-9a-z]+/.exec(readFileSync(identityFile, 'utf8'))?.[0];
  if (useLoop) {
    const image = join(work, 'stick.img');
    execFileSync('truncate', ['-s', '1G', image]);
    loopDevice = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
    execFileSync('mkfs.exfat', ['-L', 'BENCH', loopDevice], { stdio: 'ignore' });
    execFileSync('mount.exfat-fuse', [loopDevice, mountPoint]);
  }
  console.log(`stick: ${useLoop ? `exFAT on ${loopDevice} through FUSE at ${mountPoint}` : `DECLARED DIRECTORY ${mountPoint} (no root/loop/FUSE here: figures are for the local disk)`}`);

  // 10,000 files already on the stick before the agent sees it: the idle footprint case.
  const existing = join(mountPoint, 'existing');
  await mkdir(existing);
  const fileCount = values.quick ? 1000 : 10_000;
  for (let i = 0; i < fileCount; i++) {
    if (i % 100 === 0) await mkdir(join(existing, `d${i / 100}`));
    await writeFile(join(existing, `d${Math.floor(i / 100)}`, `f${i}.txt`), `existing file ${i}\n`);
  }

  const config = join(work, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({
      dataDir: join(work, 'agent-data'),
      logging: { level: 'info', console: true },
      media: { pollIntervalMs: 250, settleMs: SETTLE_MS, sealConcurrency: 2, declaredVolumes: [{ path: mountPoint, kind: useLoop ? 'mount' : 'directory', serial: useLoop ? undefined : 'BENCH' }] },
      inboundFolders: [],
      localApi: { socketDir: join(work, 'api') },
      localPolicy: {
        version: 'bench',
        zoneId: 'bench',
        keyVersion: 1,
        sealTo: [recipient],
        openable: [{ zoneId: 'bench', identityFile }],
        channels: { removableMedia: 'seal', outboundFolders: 'seal' },
        deniedDeviceAction: 'block',
        devices: { allow: [], deny: [] },
        outboundFolders: [],
      },
    }),
  );
  agent = spawn(process.execPath, [AGENT_BIN, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  agent.stdout.on('data', (chunk) => (output += chunk.toString()));
  while (!output.includes('"message":"watching"')) {
    if (agent.exitCode !== null) throw new Error(`agent exited:\n${output}`);
    await sleep(20);
  }

  // Idle footprint with the files mounted: CPU over the whole idle time, RSS sampled every second in it.
  await sleep(2000);
  const idleSeconds = values.quick ? 5 : 15;
  const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const idleFootprint = async (label) => {
    const before = procStats(agent.pid);
    const rss = [];
    for (let second = 0; second < idleSeconds; second++) {
      await sleep(1000);
      rss.push(procStats(agent.pid).rssMiB);
    }
    const after = procStats(agent.pid);
    const idleCpu = ((after.ticks - before.ticks) / hz / idleSeconds) * 100;
    rss.sort((a, b) => a - b);
    console.log(
      `${label} with ${fileCount} files on the stick: CPU ${idleCpu.toFixed(2)} % of one core over ${idleSeconds} s, ` +
        `RSS ${after.rssMiB.toFixed(1)} MiB at the end (min ${rss[0].toFixed(1)}, median ${percentile(rss, 50).toFixed(1)}, max ${rss.at(-1).toFixed(1)} over ${rss.length} samples)`,
    );
  };
  await idleFootprint('idle');
  if (values['footprint-only']) process.exit(await cleanup().then(() => 0));

  // Plaintext window per size.
  let peakRss = 0;
  let phasePeakRss = 0;
  const sampler = setInterval(() => {
    const { rssMiB } = procStats(agent.pid);
    peakRss = Math.max(peakRss, rssMiB);
    phasePeakRss = Math.max(phasePeakRss, rssMiB);
  }, 50);
  const cases = [
    { label: '4 KiB', size: 4096, runs: values.quick ? 10 : 40 },
    { label: '1 MiB', size: 1024 * 1024, runs: values.quick ? 10 : 40 },
    { label: '100 MiB', size: 100 * 1024 * 1024, runs: values.quick ? 2 : 5 },
  ];
  for (const { label, size, runs } of cases) {
    const data = randomBytes(size);
    const windows = [];
    phasePeakRss = 0;
    for (let i = 0; i < runs; i++) {
      const path = join(mountPoint, `window-${size}-${i}.bin`);
      const closed = await writeAndClose(path, data);
      await waitSealed(path, 120_000);
      windows.push(performance.now() - closed);
      await rm(path);
    }
    windows.sort((a, b) => a - b);
    console.log(`plaintext window ${label.padStart(7)}: p50 ${percentile(windows, 50).toFixed(0)} ms, p95 ${percentile(windows, 95).toFixed(0)} ms (n=${runs}; includes the ${SETTLE_MS} ms settle time); peak agent RSS ${phasePeakRss.toFixed(1)} MiB`);
  }

  // Throughput: plain cp of a 200 MiB file vs the agent's seal of the same file on the same stick.
  const source = join(work, 'throughput.bin');
  await writeFile(source, randomBytes(200 * 1024 * 1024));
  const cpStart = performance.now();
  // The agent seals the copy after cp returns: cp's time, then the extra time until it is sealed.
  execFileSync('cp', [source, join(mountPoint, 'cp-probe.bin')]);
  execFileSync('sync', [join(mountPoint, 'cp-probe.bin')]);
  const cpSeconds = (performance.now() - cpStart) / 1000;
  await waitSealed(join(mountPoint, 'cp-probe.bin'), 300_000);
  const sealSeconds = (performance.now() - cpStart) / 1000 - cpSeconds - SETTLE_MS / 1000;
  clearInterval(sampler);
  const mib = 200;
  console.log(`cp of ${mib} MiB to the stick (with fsync): ${(mib / cpSeconds).toFixed(0)} MiB/s; agent sealing the same file in place: ${(mib / sealSeconds).toFixed(0)} MiB/s; seal/cp throughput ratio ${(cpSeconds / sealSeconds).toFixed(2)}`);
  console.log(`peak agent RSS while sealing: ${peakRss.toFixed(1)} MiB`);
  await sleep(2000);
  await idleFootprint('idle again after sealing');
} finally {
  await cleanup();
}
