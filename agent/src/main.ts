import { mkdir, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ExitSealError } from '@exitseal/core';
import { ConfigError, loadAgentConfig, type AgentConfig } from './config/agent-config.js';
import { errorFields } from './logging/logger.js';
import { createWinstonLogger } from './logging/winston-logger.js';
import { MountWatcher } from './media/mount-watcher.js';
import { createVolumeSources } from './media/platform-volumes.js';
import { OsUsers } from './platform/os-users.js';
import { LocalPolicySource } from './policy/agent-policy.js';
import { ExportProcessor } from './sealing/export-processor.js';
import { RecentNotices } from './sealing/notifier.js';
import { Quarantine } from './sealing/quarantine.js';
import { SealingEngine } from './sealing/sealing-engine.js';
import { AgentDatabase } from './storage/database.js';
import { EventOutbox } from './storage/event-outbox.js';
import { JobJournal } from './storage/job-journal.js';
import { VolumeRegistry } from './storage/volume-registry.js';

/**
 * The composition root of the agent service: `exitseal-agent run --config FILE` wires configuration,
 * logging, storage, policy, media detection and the sealing engine through constructors, and runs until
 * SIGTERM/SIGINT. `exitseal-agent events --config FILE` prints the local export log (JSON lines).
 */

export interface AgentIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Resolves when the service should stop (a signal); injected so tests can stop it. */
  readonly stopSignal: Promise<string>;
}

const USAGE = `usage:
  exitseal-agent run --config FILE       run the agent service
  exitseal-agent events --config FILE    print the local export log as JSON lines (oldest first)
`;

async function homeDirectories(): Promise<string[]> {
  const homes = (await readdir('/home').catch(() => [] as string[])).map((name) => join('/home', name));
  return process.platform === 'linux' ? homes : [];
}

async function loadConfig(args: string[]): Promise<AgentConfig> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, allowPositionals: false });
  if (!values.config) throw new ConfigError('(command line)', ['--config FILE is required']);
  return loadAgentConfig(values.config, { homes: await homeDirectories() });
}

async function run(args: string[], io: AgentIo): Promise<number> {
  const config = await loadConfig(args);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const logger = createWinstonLogger({ dir: join(config.dataDir, 'logs'), ...config.logging });
  const db = AgentDatabase.open(join(config.dataDir, 'agent.db'));
  try {
    const journal = new JobJournal(db);
    const outbox = new EventOutbox(db);
    const registry = new VolumeRegistry(db);
    const policy = new LocalPolicySource(config.localPolicy);
    const notifier = new RecentNotices(logger);
    const users = new OsUsers();
    const processor = new ExportProcessor({
      db,
      journal,
      outbox,
      policy,
      quarantine: new Quarantine(join(config.dataDir, 'quarantine')),
      notifier,
      logger,
      host: hostname(),
      osUserOf: (path) => users.ownerOf(path),
    });
    const engine = new SealingEngine(policy, { processor, journal, registry, logger, settleMs: config.media.settleMs, concurrency: config.media.sealConcurrency }, notifier, logger);
    const sources = await createVolumeSources(process.platform, config.media.declaredVolumes);
    const watcher = new MountWatcher(sources, engine, config.media.pollIntervalMs, (error) => logger.error('volume detection failed', errorFields(error)));
    const current = policy.current();
    logger.info('agent starting', { pid: process.pid, policySource: current.source, policyVersion: current.version, zone: current.zoneId, dataDir: config.dataDir, pendingJobs: journal.count() });
    await watcher.start();
    await engine.startOutboundFolders();
    logger.info('agent ready', { watching: engine.watchedRoots() });
    const signal = await io.stopSignal;
    logger.info('agent stopping', { signal });
    await watcher.stop();
    await engine.stop();
    logger.info('agent stopped', { pendingJobs: journal.count(), pendingEvents: outbox.pendingCount() });
    return 0;
  } finally {
    db.close();
    await logger.close();
  }
}

async function printEvents(args: string[], io: AgentIo): Promise<number> {
  const config = await loadConfig(args);
  const db = AgentDatabase.open(join(config.dataDir, 'agent.db'));
  try {
    const outbox = new EventOutbox(db);
    for (const stored of outbox.all()) io.stdout.write(`${JSON.stringify({ seq: stored.seq, uploaded: stored.uploaded, ...stored.event })}\n`);
    const broken = outbox.verifyChain();
    if (broken !== null) {
      io.stderr.write(`the hash chain is broken at event ${broken}\n`);
      return 5;
    }
    return 0;
  } finally {
    db.close();
  }
}

export async function main(argv: string[], io: AgentIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await run(rest, io);
      case 'events':
        return await printEvents(rest, io);
      default:
        io.stderr.write(USAGE);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return 2;
    }
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`${error.message}\n${USAGE}`);
      return 2;
    }
    const code = error instanceof ExitSealError ? error.code : 'FAULT';
    io.stderr.write(`exitseal-agent: ${code}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
