import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AgentProcess } from './agent-process.js';

const run = promisify(execFile);
const AGE_MAGIC = 'age-encryption.org/v1\n';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256OfFile(path: string): Promise<string> {
  const { stdout } = await run('sha256sum', [path]);
  return stdout.split(' ')[0] ?? '';
}

/** Decrypts with the Debian age CLI and hashes the plaintext (streams: 200 MB never sits in memory). */
export async function ageDecryptedSha(path: string, identityFile: string): Promise<string> {
  const { stdout } = await run('sh', ['-c', 'age -d -i "$1" "$2" | sha256sum', 'sh', identityFile, path], { maxBuffer: 1024 * 1024 });
  return stdout.split(' ')[0] ?? '';
}

export async function listFiles(root: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(join(root, entry.name), rel)));
    else out.push(rel);
  }
  return out.sort();
}

export async function startsSealed(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(AGE_MAGIC.length);
    await handle.read(head, 0, head.length, 0);
    return head.toString('latin1') === AGE_MAGIC;
  } finally {
    await handle.close();
  }
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, agent?: AgentProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${agent ? `\n${agent.tail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface Workspace {
  readonly dir: string;
  readonly identityFile: string;
  readonly recipient: string;
  readonly mountPoint: string;
}

/** A temp dir with a zone key made by the Debian age-keygen; removed with everything in it afterwards. */
export async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'exitseal-e2e-'));
  try {
    const identityFile = join(dir, 'zone-lgwan.key');
    await run('age-keygen', ['-o', identityFile]);
    const { stdout } = await run('age-keygen', ['-y', identityFile]);
    await fn({ dir, identityFile, recipient: stdout.trim(), mountPoint: join(dir, 'stick') });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

