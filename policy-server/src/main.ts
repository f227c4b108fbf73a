import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { configPath, loadSettings, type Config, type ServerSettings } from './config.js';
import { MasterKey } from './crypto/masterKey.js';
import { RequestAuthenticator } from './http/auth.js';
import { agentRoutes } from './http/routes/agent.js';
import { consoleRoutes } from './http/routes/console.js';
import { consoleStatic } from './http/routes/consoleStatic.js';
import { peopleRoutes } from './http/routes/people.js';
import { createHttpServer, listen } from './http/server.js';
import { createLogger, type Logger } from './log/logger.js';
import { SyslogForwarder } from './log/syslog.js';
import { AuditService } from './services/audit.js';
import { BundleService } from './services/bundles.js';
import { ConsoleService } from './services/console.js';
import { LogChain } from './services/chain.js';
import { ChainHeadPublisher, type ChainHeadSink } from './services/chainHeads.js';
import { systemClock, type Clock } from './services/clock.js';
import { EnrolmentService } from './services/enrolment.js';
import { EventService, type EventSink } from './services/events.js';
import { loadOrCreateIdentity, type ServerIdentity } from './services/identity.js';
import { RequestService } from './services/requests.js';
import { LoginThrottle, UserService } from './services/users.js';
import { ZoneService } from './services/zones.js';
import { SqliteStore } from './storage/sqlite.js';
import type { Store } from './storage/store.js';

/** Everything the server is made of, wired once here (the composition root). */
export interface Services {
  readonly settings: ServerSettings;
  readonly store: Store;
  readonly logger: Logger;
  readonly identity: ServerIdentity;
  readonly audit: AuditService;
  readonly chain: LogChain;
  readonly zones: ZoneService;
  readonly enrolment: EnrolmentService;
  readonly bundles: BundleService;
  readonly events: EventService;
  readonly users: UserService;
  readonly requests: RequestService;
  /** Copies the logs' anchored chain heads to the server log (and syslog when configured). */
  readonly chainHeads: ChainHeadPublisher;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly dataDir: string;
  readonly overrides?: Partial<Config>;
  readonly clock?: Clock;
  /** The EXITSEAL_MASTER_KEY value, if the key comes from the environment. */
  readonly masterKeyEnv?: string;
}

export async function openServices(options: OpenOptions): Promise<Services> {
  const settings = loadSettings(options.dataDir, options.overrides);
  const { config } = settings;
  const clock = options.clock ?? systemClock;
  const masterKey = MasterKey.load({ envValue: options.masterKeyEnv, filePath: settings.masterKeyPath });
  mkdirSync(settings.logDir, { recursive: true, mode: 0o700 });
  const logger = createLogger({ level: config.log.level, directory: settings.logDir, maxSizeBytes: config.log.maxSizeBytes, maxFiles: config.log.maxFiles, console: config.log.console });
  const store = SqliteStore.open(settings.databasePath, { onBackgroundError: (error) => logger.warn('background database write failed; retrying', { error: error.message }) });
  try {
    const chain = new LogChain(masterKey);
    const audit = new AuditService(store, chain, clock);
    const zones = new ZoneService(store, masterKey, audit, clock);
    await zones.ensureFallbackZone();
    const identity = await loadOrCreateIdentity(store, masterKey, config.publicHostnames, clock);
    const sinks: EventSink[] = [];
    let syslog: SyslogForwarder | null = null;
    if (config.syslog) {
      syslog = new SyslogForwarder(config.syslog, (error) => logger.warn('syslog forwarding failed', { error: error.message }));
      sinks.push(syslog);
    }
    const headSinks: ChainHeadSink[] = [{ publish: (log, head, at) => logger.info('log chain head', { log, seq: head.seq, headHash: head.headHash, at }) }];
    if (syslog !== null) headSinks.push(syslog);
    const enrolment = new EnrolmentService(store, identity, audit, clock, { maxTokenHours: config.maxEnrolmentTokenHours, certificateDays: config.agentCertificateDays });
    const services: Services = {
      settings,
      store,
      logger,
      identity,
      audit,
      chain,
      zones,
      enrolment,
      bundles: new BundleService(store, zones, identity, clock),
      events: new EventService(store, chain, clock, sinks),
      users: new UserService(store, audit, clock, new LoginThrottle(config.loginRateLimit.maxFailures, config.loginRateLimit.windowSeconds * 1000), config.sessionTtlMinutes),
      requests: new RequestService(store, zones, identity, masterKey, audit, clock, config.releaseTokenHours),
      chainHeads: new ChainHeadPublisher(store, clock, headSinks),
      close: async () => {
        syslog?.close();
        await store.close();
        await logger.close();
      },
    };
    return services;
  } catch (error) {
    await store.close();
    await logger.close();
    throw error;
  }
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** How often expired sessions are deleted from the store. */
const SESSION_PURGE_INTERVAL_MS = 15 * 60_000;
/** How often the logs' chain heads are copied out of the database (server log, syslog). */
const CHAIN_HEAD_PUBLISH_INTERVAL_MS = 5 * 60_000;

export async function startServer(options: OpenOptions): Promise<RunningServer> {
  const services = await openServices(options);
  const { config } = services.settings;
  const auth = new RequestAuthenticator(services.enrolment, services.users);
  const app = await createHttpServer(
    {
      tls: { keyPem: services.identity.tls.keyPem, certificatePem: services.identity.tls.certificatePem, caCertificatePem: services.identity.ca.certificatePem },
      bodyLimitBytes: config.bodyLimitBytes,
      logger: services.logger,
    },
    [
      agentRoutes({ auth, enrolment: services.enrolment, bundles: services.bundles, events: services.events, requests: services.requests }),
      peopleRoutes({ auth, users: services.users, zones: services.zones, enrolment: services.enrolment, events: services.events, audit: services.audit, requests: services.requests, sessionTtlMinutes: config.sessionTtlMinutes }),
      consoleRoutes({ auth, audit: services.audit, requests: services.requests, console: new ConsoleService(services.store, services.chain.link, options.clock ?? systemClock) }),
      consoleStatic(),
    ],
  );
  const { url, port } = await listen(app, config.listenHost, config.listenPort);
  services.logger.info('policy server listening', { url });
  const sessionPurge = setInterval(() => {
    services.users.purgeExpiredSessions().catch((error: unknown) => services.logger.warn('purging expired sessions failed', { error: error instanceof Error ? error.message : String(error) }));
  }, SESSION_PURGE_INTERVAL_MS);
  // The timer alone must not keep the process running.
  sessionPurge.unref();
  const publishChainHeads = () =>
    services.chainHeads.publish().catch((error: unknown) => services.logger.warn('copying the log chain heads out failed', { error: error instanceof Error ? error.message : String(error) }));
  await publishChainHeads();
  const chainHeadTimer = setInterval(() => void publishChainHeads(), CHAIN_HEAD_PUBLISH_INTERVAL_MS);
  chainHeadTimer.unref();
  return {
    url,
    port,
    services,
    app,
    close: async () => {
      clearInterval(sessionPurge);
      clearInterval(chainHeadTimer);
      await app.close();
      await services.close();
    },
  };
}

/**
 * First start: the data directory (0700), a master key file (0600) unless the key comes from the
 * environment, a default config.json, the database with the CA, TLS certificate, signing key and the
 * fallback zone. Safe to run twice: what exists is kept.
 */
export async function initDataDir(options: OpenOptions): Promise<{ created: string[] }> {
  const created: string[] = [];
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(options.dataDir, 0o700);
  const settings = loadSettings(options.dataDir, options.overrides);
  if ((options.masterKeyEnv ?? '') === '' && !existsSync(settings.masterKeyPath)) {
    MasterKey.createFile(settings.masterKeyPath);
    created.push(settings.masterKeyPath);
  }
  if (!existsSync(configPath(options.dataDir))) {
    const { listenHost, listenPort, publicHostnames } = settings.config;
    writeFileSync(configPath(options.dataDir), `${JSON.stringify({ listenHost, listenPort, publicHostnames }, null, 2)}\n`, { mode: 0o600 });
    created.push(configPath(options.dataDir));
  }
  const services = await openServices(options);
  await services.close();
  created.push(settings.databasePath);
  return { created };
}
