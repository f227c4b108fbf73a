import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Why a real "USB stick" (exFAT on a loop device through FUSE) cannot be made here, or undefined when it can.
 * Tests print this loudly and skip; they never pass silently without the real file system.
 */
export function missingStickFacilities(): string | undefined {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux');
  if (process.getuid?.() !== 0) missing.push('root');
  for (const command of ['losetup', 'mkfs.exfat', 'mount.exfat-fuse', 'umount', 'age']) if (!hasCommand(command)) missing.push(command);
  if (!existsSync('/dev/fuse')) missing.push('/dev/fuse');
  if (!existsSync('/dev/loop-control')) missing.push('/dev/loop-control');
  if (missing.length === 0) return undefined;
  const reason = `REAL-STICK E2E SKIPPED: missing ${missing.join(', ')} (Debian: exfatprogs, exfat-fuse, mount, age; run as root with loop and FUSE devices)`;
  console.error(`\n*** ${reason} ***\n`);
  return reason;
}

/**
 * A file-system image attached to a loop device and formatted exFAT, mounted and unmounted with exfat-fuse
 * as a desktop would mount a stick. `destroy` always detaches everything, even after a failure.
 */
export class LoopStick {
  private mountedAt: string | undefined;
  private daemon: ChildProcess | undefined;

  private constructor(
    readonly image: string,
    readonly device: string,
    readonly label: string,
  ) {}

  static async create(image: string, sizeMiB: number, label: string): Promise<LoopStick> {
    await run('truncate', ['-s', `${sizeMiB}M`, image]);
    const { stdout } = await run('losetup', ['--find', '--show', image]);
    const stick = new LoopStick(image, stdout.trim(), label);
    try {
      await run('mkfs.exfat', ['-L', label, stick.device]);
    } catch (error) {
      await stick.destroy();
      throw error;
    }
    return stick;
  }

  /** The exFAT volume serial (what blkid calls UUID): the stick's identity when USB gives none. */
  async volumeSerial(): Promise<string> {
    const { stdout } = await run('blkid', ['-o', 'value', '-s', 'UUID', this.device]);
    return stdout.trim();
  }

  /**
   * Mounts like a desktop would. With `yankable`, the FUSE daemon runs in the foreground (-d) as our own
   * child, so `yank` can kill exactly that process to simulate pulling the stick out.
   */
  async mount(mountPoint: string, options: { yankable?: boolean } = {}): Promise<void> {
    await mkdir(mountPoint, { recursive: true });
    if (options.yankable) {
      this.daemon = spawn('mount.exfat-fuse', ['-d', this.device, mountPoint], { stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      while (!(await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${mountPoint} `)) {
        if (Date.now() > deadline) throw new Error(`exfat-fuse did not mount ${mountPoint}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } else {
      await run('mount.exfat-fuse', [this.device, mountPoint]);
    }
    this.mountedAt = mountPoint;
  }

  async unmount(): Promise<void> {
    if (!this.mountedAt) return;
    const at = this.mountedAt;
    this.mountedAt = undefined;
    try {
      await run('umount', [at]);
    } catch {
      await run('umount', ['-l', at]).catch(() => undefined);
    }
    const daemon = this.daemon;
    this.daemon = undefined;
    if (daemon && daemon.exitCode === null) await new Promise((resolve) => daemon.once('exit', resolve));
  }

  /** What pulling the stick looks like to the agent: the FUSE daemon dies, I/O fails with ENOTCONN. */
  async yank(): Promise<void> {
    const daemon = this.daemon;
    if (!this.mountedAt || !daemon) throw new Error('only a stick mounted with { yankable: true } can be yanked');
    const exited = new Promise((resolve) => daemon.once('exit', resolve));
    daemon.kill('SIGKILL');
    await exited;
    this.daemon = undefined;
    await run('umount', ['-l', this.mountedAt]).catch(() => undefined);
    this.mountedAt = undefined;
  }

  async destroy(): Promise<void> {
    await this.unmount();
    await run('losetup', ['-d', this.device]).catch(() => undefined);
  }
}
