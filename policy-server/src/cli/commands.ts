import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isExitSealError } from '@exitseal/core';
import { initDataDir, openServices, startServer, type OpenOptions, type RunningServer } from '../main.js';
import type { ChainReport } from '../services/chain.js';
import { certificateFingerprint } from '../services/identity.js';

export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Reads a password when it is not in EXITSEAL_PASSWORD (first line of stdin). */
  readonly readSecret: () => Promise<string>;
  /** Called with the running server by `start`; resolves when the process should stop. */
  readonly untilStopped: (server: RunningServer) => Promise<void>;
}

const USAGE = `usage: exitseal-server <command> [--data DIR] [options]
  init          [--host H] [--port P] [--hostname NAME ...]   create the data directory, master key, CA and database
  start                                                       run the HTTPS server
  create-user   --username U --role staff|approver|admin|auditor   password from EXITSEAL_PASSWORD or stdin
  enrol-token   [--zone Z] [--hours N]                        print a one-time agent enrolment token
  rotate-key    --zone Z                                      new key version for a zone
  verify-log                                                  check the export and audit chains (exit 1 if broken)
  backup        --to FILE                                     consistent copy of the database
  ca            [--fingerprint]                               print the CA certificate (PEM) and its SHA-256 fingerprint,
                                                              which agents pin: exitseal-agent enrol --ca-fingerprint SHA256
                                                              (--fingerprint: the fingerprint alone)
The data directory is --data, else EXITSEAL_DATA_DIR, else ./exitseal-data.
The master key is EXITSEAL_MASTER_KEY (base64 of 32 bytes) if set, else <data>/master.key (mode 0600).`;

const OPTIONS = {
  data: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  hostname: { type: 'string', multiple: true },
  username: { type: 'string' },
  role: { type: 'string' },
  zone: { type: 'string' },
  hours: { type: 'string' },
  to: { type: 'string' },
  fingerprint: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

class UsageError extends Error {}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

function printReport(report: ChainReport, io: CliIo): void {
  io.out(`${report.log} log: ${report.ok ? 'OK' : 'BROKEN'} (${report.rowsChecked} rows checked)`);
  for (const problem of report.problems) io.out(`  row ${problem.seq}: ${problem.problem}`);
}

/** Runs one command; returns the process exit code (0 ok, 1 failure found, 2 usage or startup error). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help === true || command === undefined) {
    io.out(USAGE);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  const dataDir = resolve(values.data ?? io.env.EXITSEAL_DATA_DIR ?? 'exitseal-data');
  const base: OpenOptions = { dataDir, masterKeyEnv: io.env.EXITSEAL_MASTER_KEY };
  try {
    if (command !== 'init' && !existsSync(dataDir)) throw new UsageError(`${dataDir} does not exist: run "exitseal-server init --data ${dataDir}" first`);
    switch (command) {
      case 'init': {
        const overrides = {
          ...(values.host === undefined ? {} : { listenHost: values.host }),
          ...(values.port === undefined ? {} : { listenPort: Number(values.port) }),
          ...(values.hostname === undefined ? {} : { publicHostnames: values.hostname }),
        };
        const { created } = await initDataDir({ ...base, overrides });
        io.out(`initialised ${dataDir}`);
        for (const path of created) io.out(`  ${path}`);
        return 0;
      }
      case 'start': {
        const server = await startServer(base);
        io.out(`listening on ${server.url}`);
        await io.untilStopped(server);
        await server.close();
        return 0;
      }
      default:
        return await runWithServices(command, values, base, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${error.message}\n${USAGE}`);
      return 2;
    }
    if (isExitSealError(error)) {
      io.err(`error (${error.code}): ${error.message}`);
      return 2;
    }
    throw error;
  }
}

async function runWithServices(command: string, values: Record<string, unknown>, base: OpenOptions, io: CliIo): Promise<number> {
  const known = ['create-user', 'enrol-token', 'rotate-key', 'verify-log', 'backup', 'ca'];
  if (!known.includes(command)) throw new UsageError(`unknown command "${command}"`);
  const services = await openServices(base);
  try {
    switch (command) {
      case 'create-user': {
        const username = need(values.username as string | undefined, 'username');
        const role = need(values.role as string | undefined, 'role');
        const password = io.env.EXITSEAL_PASSWORD ?? (await io.readSecret());
        const user = await services.users.create('cli', { username, role, password });
        io.out(`created ${user.role} "${user.username}"`);
        return 0;
      }
      case 'enrol-token': {
        const hours = values.hours === undefined ? 24 : Number(values.hours);
        const created = await services.enrolment.createToken('cli', { zoneId: (values.zone as string | undefined) ?? null, validHours: hours });
        io.out(created.token);
        io.err(`valid until ${created.expiresAt}${created.zoneId ? ` for zone ${created.zoneId}` : ''}; it is shown only once`);
        return 0;
      }
      case 'rotate-key': {
        const key = await services.zones.rotateKey('cli', need(values.zone as string | undefined, 'zone'));
        io.out(`zone ${key.zoneId} now seals to key version ${key.version} (${key.recipient})`);
        return 0;
      }
      case 'ca': {
        const pem = services.identity.ca.certificatePem;
        const fingerprint = certificateFingerprint(pem);
        if (values.fingerprint === true) {
          io.out(fingerprint);
        } else {
          io.out(pem.trimEnd());
          io.out(`SHA-256 fingerprint: ${fingerprint}`);
        }
        return 0;
      }
      case 'verify-log': {
        const reports = [await services.events.verify(), await services.audit.verify()];
        for (const report of reports) printReport(report, io);
        return reports.every((r) => r.ok) ? 0 : 1;
      }
      default: {
        const to = resolve(need(values.to as string | undefined, 'to'));
        if (existsSync(to)) throw new UsageError(`${to} exists; give a new file name`);
        await services.store.backup(to);
        await services.audit.record('cli', 'backup', to);
        io.out(`backup written to ${to}`);
        return 0;
      }
    }
  } finally {
    await services.close();
  }
}
