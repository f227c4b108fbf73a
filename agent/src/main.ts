import { mkdir, readdir, readFile } from 'node:fs/promises';
import { hostname, type as osType, release as osRelease } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ExitSealError } from '@exitseal/core';
import { ConfigError, loadAgentConfig, type AgentConfig } from './config/agent-config.js';
import { errorFields } from './logging/logger.js';
import { createWinstonLogger } from './logging/winston-logger.js';
import { HOTPLUG_SETTLE_DELAYS_MS, MountWatcher } from './media/mount-watcher.js';
import { createHotplugSource, createVolumeSources } from './media/platform-volumes.js';
import { OsUsers } from './platform/os-users.js';
import { LocalPolicySource, type PolicySource } from './policy/agent-policy.js';
import { BundleCache } from './policy/bundle-cache.js';
import { PolicySync } from './policy/policy-sync.js';
import { ServerPolicySource } from './policy/server-policy-source.js';
import { NetworkWatcher } from './network/network-facts.js';
import { apiFor, enrolAgent, loadEnrolment, type Enrolment } from './server/enrolment.js';
import type { PolicyServerApi } from './server/policy-server-api.js';
import { Backoff } from './server/retry.js';
import { AgentBacklogMeter } from './upload/backlog.js';
import { EventUploader } from './upload/event-uploader.js';
import { InboundOpener } from './inbound/inbound-opener.js';
import { agentHandlers } from './local-api/agent-handlers.js';
import { UserSockets } from './local-api/user-sockets.js';
import { LocalApiServer } from './local-api/local-api-server.js';
import { ReleaseGate } from './requests/release-gate.js';
import { RequestService } from './requests/request-service.js';
import { RequestStore } from './storage/request-store.js';
import type { Logger } from './logging/logger.js';
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
  exitseal-agent enrol --config FILE --server URL --token TOKEN (--ca-fingerprint SHA256 | --ca-file FILE)
                                         enrol with the policy server (one-time token from the administrator)
`;

export const AGENT_VERSION = '0.1.0';

async function homeDirectories(): Promise<string[]> {
  const homes = (await readdir('/home').catch(() => [] as string[])).map((name) => join('/home', name));
  return process.platform === 'linux' ? homes : [];
}

async function loadConfig(args: string[]): Promise<AgentConfig> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } }, allowPositionals: false });
  if (!values.config) throw new ConfigError('(command line)', ['--config FILE is required']);
  return loadAgentConfig(values.config, { homes: await homeDirectories() });
}

/** The server side of a running agent: policy sync, zone detection and event upload. */
interface ServerLink {
  readonly enrolment: Enrolment;
  readonly api: PolicyServerApi;
  readonly source: ServerPolicySource;
  readonly sync: PolicySync;
  readonly network: NetworkWatcher;
  readonly uploader: EventUploader;
}

async function connectToServer(config: AgentConfig, enrolment: Enrolment, outbox: EventOutbox, backlog: AgentBacklogMeter, logger: Logger, stopSignal: Promise<string>): Promise<ServerLink | undefined> {
  const api = apiFor(enrolment, config.server.requestTimeoutMs);
  api.reportBacklog(backlog);
  const source = new ServerPolicySource(config.outboundFolders, logger);
  const sync = new PolicySync({
    api,
    verifyKey: enrolment.verifyKey,
    cache: new BundleCache(join(config.dataDir, 'policy', 'bundle.json')),
    receivers: [source],
    contactChanged: (contact) => source.contactChanged(contact),
    logger,
    pollMs: config.server.pollSeconds * 1000,
    retryMaxMs: config.server.retryMaxSeconds * 1000,
  });
  const network = new NetworkWatcher(source, config.network.pollMs, logger);
  await network.start();
  await sync.loadCached();
  await sync.pollOnce();
  // Without any policy there is no key to seal with: wait for the server rather than guess.
  const backoff = new Backoff(1000, config.server.retryMaxSeconds * 1000);
  let stopped = false;
  void stopSignal.then(() => (stopped = true));
  while (!source.hasPolicy() && !stopped) {
    logger.error('no policy yet (no cached bundle and the server did not answer): removable media are not watched until it does', { server: enrolment.serverUrl });
    await Promise.race([new Promise((resolve) => setTimeout(resolve, backoff.nextDelayMs())), stopSignal]);
    if (!stopped) await sync.pollOnce();
  }
  if (!source.hasPolicy()) {
    network.stop();
    api.close();
    return undefined;
  }
  sync.start();
  const uploader = new EventUploader(outbox, api, { batchSize: config.server.uploadBatchSize, idleMs: config.server.uploadIntervalMs, retryMaxMs: config.server.retryMaxSeconds * 1000 }, logger);
  uploader.start();
  return { enrolment, api, source, sync, network, uploader };
}

async function run(args: string[], io: AgentIo): Promise<number> {
  const config = await loadConfig(args);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const enrolment = await loadEnrolment(config.dataDir);
  if (!enrolment && !config.localPolicy) {
    throw new ConfigError('(configuration)', ['this agent is not enrolled (exitseal-agent enrol) and the configuration has no localPolicy: there is no policy to enforce']);
  }
  const logger = createWinstonLogger({ dir: join(config.dataDir, 'logs'), ...config.logging });
  const db = AgentDatabase.open(join(config.dataDir, 'agent.db'));
  let link: ServerLink | undefined;
  try {
    const journal = new JobJournal(db);
    const outbox = new EventOutbox(db);
    const registry = new VolumeRegistry(db);
    let policy: PolicySource;
    if (enrolment) {
      logger.info('agent enrolled', { agentId: enrolment.agentId, homeZone: enrolment.zoneId, server: enrolment.serverUrl });
      const backlog = new AgentBacklogMeter(outbox, journal, join(config.dataDir, 'quarantine'), logger);
      link = await connectToServer(config, enrolment, outbox, backlog, logger, io.stopSignal);
      if (!link) {
        logger.info('agent stopped before it had a policy');
        return 0;
      }
      policy = link.source;
    } else {
      policy = new LocalPolicySource(config.localPolicy!);
    }
    const notifier = new RecentNotices(logger);
    const users = new OsUsers();
    const store = new RequestStore(db);
    const host = hostname();
    const osUserOf = (path: string) => users.ownerOf(path);
    const requests = link
      ? new RequestService({
          api: link.api,
          db,
          store,
          outbox,
          verifyKey: link.enrolment.verifyKey,
          agentId: link.enrolment.agentId,
          host,
          zoneId: () => policy.current().zoneId,
          notifier,
          logger,
          pollMs: config.server.pollSeconds * 1000,
        })
      : undefined;
    const processor = new ExportProcessor({
      db,
      journal,
      outbox,
      policy,
      quarantine: new Quarantine(join(config.dataDir, 'quarantine')),
      notifier,
      logger,
      host,
      osUserOf,
      releases: link ? new ReleaseGate(store, link.enrolment.verifyKey, link.enrolment.agentId) : undefined,
    });
    const engine = new SealingEngine(policy, { processor, journal, registry, logger, settleMs: config.media.settleMs, concurrency: config.media.sealConcurrency }, notifier, logger);
    const sources = await createVolumeSources(process.platform, config.media.declaredVolumes, (error) => logger.warn('USB identity of a new drive is unknown: device rules cannot match it', errorFields(error)));
    const hotplug = createHotplugSource(process.platform);
    const watcher = new MountWatcher(
      sources,
      engine,
      config.media.pollIntervalMs,
      (error) => logger.error('volume detection failed', errorFields(error)),
      hotplug && { source: hotplug, settleDelaysMs: HOTPLUG_SETTLE_DELAYS_MS, unavailable: (error) => logger.warn('USB hot-plug events are unavailable: drives are found by polling only', { ...errorFields(error), pollIntervalMs: config.media.pollIntervalMs }) },
    );
    const current = policy.current();
    logger.info('agent starting', { pid: process.pid, policySource: current.source, policyVersion: current.version, zone: current.zoneId, dataDir: config.dataDir, pendingJobs: journal.count() });
    await watcher.start();
    await engine.startOutboundFolders();
    const inbound = new InboundOpener({ policy, db, store, outbox, notifier, logger, host, osUserOf, settleMs: config.media.settleMs });
    await inbound.start(config.inboundFolders);
    requests?.start();
    const localApi = new LocalApiServer(agentHandlers({ policy, outbox, store, notifier, requests, sync: link?.sync, watchedRoots: () => engine.watchedRoots() }), logger);
    const sockets = new UserSockets(localApi, users, config.localApi.socketDir, logger);
    await sockets.start();
    logger.info('agent ready', { watching: engine.watchedRoots(), localApi: localApi.listening() });
    const signal = await io.stopSignal;
    logger.info('agent stopping', { signal });
    sockets.stop();
    await localApi.close();
    await requests?.stop();
    await inbound.stop();
    await watcher.stop();
    await engine.stop();
    logger.info('agent stopped', { pendingJobs: journal.count(), pendingEvents: outbox.pendingCount() });
    return 0;
  } finally {
    if (link) {
      link.network.stop();
      await link.sync.stop();
      await link.uploader.stop();
      link.api.close();
    }
    db.close();
    await logger.close();
  }
}

async function enrol(args: string[], io: AgentIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, server: { type: 'string' }, token: { type: 'string' }, 'ca-fingerprint': { type: 'string' }, 'ca-file': { type: 'string' } },
    allowPositionals: false,
  });
  const problems: string[] = [];
  if (!values.config) problems.push('--config FILE is required');
  if (!values.server) problems.push('--server URL is required');
  if (!values.token) problems.push('--token TOKEN is required');
  if ((values['ca-fingerprint'] === undefined) === (values['ca-file'] === undefined)) problems.push('give exactly one of --ca-fingerprint SHA256 and --ca-file FILE (the server CA, from the administrator)');
  if (values['ca-fingerprint'] !== undefined && !/^([0-9a-fA-F]{2}:?){32}$/.test(values['ca-fingerprint'])) problems.push('--ca-fingerprint must be the SHA-256 fingerprint of the server CA (64 hex digits, colons allowed)');
  if (problems.length > 0) throw new ConfigError('(command line)', problems);
  const config = loadAgentConfig(values.config ?? '', { homes: await homeDirectories() });
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const caPem = values['ca-file'] === undefined ? undefined : await readFile(values['ca-file'], 'utf8');
  const enrolment = await enrolAgent({
    dataDir: config.dataDir,
    serverUrl: values.server ?? '',
    token: values.token ?? '',
    caPem,
    caFingerprint: values['ca-fingerprint'],
    hostname: hostname(),
    osName: `${osType()} ${osRelease()}`,
    agentVersion: AGENT_VERSION,
  });
  // Fetch the first policy now, so the service starts with one even if the server is down then.
  const api = apiFor(enrolment, config.server.requestTimeoutMs);
  const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };
  try {
    const sync = new PolicySync({
      api,
      verifyKey: enrolment.verifyKey,
      cache: new BundleCache(join(config.dataDir, 'policy', 'bundle.json')),
      receivers: [],
      contactChanged: () => undefined,
      logger: quiet,
      pollMs: config.server.pollSeconds * 1000,
      retryMaxMs: config.server.retryMaxSeconds * 1000,
    });
    const first = await sync.pollOnce();
    io.stdout.write(`enrolled as agent ${enrolment.agentId} in zone ${enrolment.zoneId} with ${enrolment.serverUrl}${first === 'changed' ? '; policy fetched' : '; the policy will be fetched when the service starts'}\n`);
  } finally {
    api.close();
  }
  return 0;
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
      case 'enrol':
        return await enrol(rest, io);
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
