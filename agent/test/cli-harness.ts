import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../src/cli/exitseal.js';

export const CLI_PATH = new URL('../../bin/exitseal.js', import.meta.url).pathname;

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with captured streams (fast; used for most cases). */
export async function runCli(args: string[], stdinText = '', env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => err.push(b));
  const code = await main(args, { stdout, stderr, stdin: Readable.from([stdinText]), env });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'exitseal-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** The Debian `age` CLI, with arguments. Throws with its stderr on failure. */
export function age(args: string[], input?: Buffer): Buffer {
  const result = spawnSync('age', args, { input, maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`age ${args.join(' ')} failed: ${result.stderr.toString()}`);
  return result.stdout;
}

/**
 * The age CLI reads passphrases only from a terminal. util-linux `script` gives it a pseudo-terminal; we type
 * the passphrase once it asks.
 */
export function ageWithPassphrase(args: string[], passphrase: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', ['age', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let seen = '';
    let typed = 0;
    child.stdout.on('data', (b: Buffer) => {
      seen += b.toString('utf8');
      const prompts = seen.split(/passphrase/i).length - 1;
      while (typed < prompts) {
        child.stdin.write(`${passphrase}\n`);
        typed++;
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      if (code === 0) resolve();
      else reject(new Error(`age ${args.join(' ')} under script exited ${code}: ${seen}`));
    });
  });
}
