import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const AGENT_BIN = new URL('../../../../agent/bin/exitseal-agent.js', import.meta.url).pathname;

export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields?: Record<string, unknown>;
}

export interface AgentEvent {
  readonly seq: number;
  readonly eventId: string;
  readonly action: string;
  readonly fileName: string;
  readonly mediaPath?: string;
  readonly size: number;
  readonly sha256?: string;
  readonly fileId?: string;
  readonly reason?: string;
  readonly device?: { vendorId?: string; productId?: string; serial?: string; label?: string; mount?: string };
}

/** A real `exitseal-agent run` process, its JSON log lines collected from stdout. */
export class AgentProcess {
  readonly lines: LogLine[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(private readonly child: ChildProcess) {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ level: 'raw', message: line });
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => this.lines.push({ level: 'stderr', message: chunk.toString('utf8') }));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(configPath: string): Promise<AgentProcess> {
    const agent = new AgentProcess(spawn(process.execPath, [AGENT_BIN, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await agent.waitForLog('agent ready', (line) => line.message === 'agent ready');
    return agent;
  }

  async waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`the agent exited (${this.child.exitCode}) before ${what}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${this.tail()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  tail(count = 30): string {
    return this.lines.slice(-count).map((line) => JSON.stringify(line)).join('\n');
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** The agent's local export log, read with `exitseal-agent events` (works while the agent runs). */
export function readEvents(configPath: string): AgentEvent[] {
  const result = spawnSync(process.execPath, [AGENT_BIN, 'events', '--config', configPath], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`exitseal-agent events failed (${result.status}): ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AgentEvent);
}

export interface AgentConfigOptions {
  readonly dir: string;
  readonly recipient: string;
  readonly identityFile: string;
  readonly declaredMount: string;
  readonly settleMs?: number;
}

/** Writes an agent configuration with a local policy that seals to the zone and treats `declaredMount` as a stick. */
export async function writeAgentConfig(options: AgentConfigOptions): Promise<string> {
  const path = join(options.dir, 'agent.json');
  const config = {
    dataDir: join(options.dir, 'agent-data'),
    logging: { level: 'info', console: true },
    media: { pollIntervalMs: 100, settleMs: options.settleMs ?? 200, sealConcurrency: 2, declaredVolumes: [{ path: options.declaredMount, kind: 'mount' }] },
    inboundFolders: [],
    localApi: { socketDir: join(options.dir, 'api') },
    localPolicy: {
      version: 'e2e-1',
      zoneId: 'lgwan',
      keyVersion: 1,
      sealTo: [options.recipient],
      openable: [{ zoneId: 'lgwan', identityFile: options.identityFile }],
      channels: { removableMedia: 'seal', outboundFolders: 'seal' },
      deniedDeviceAction: 'block',
      devices: { allow: [], deny: [] },
      outboundFolders: [],
    },
  };
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}
