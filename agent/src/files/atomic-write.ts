import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf, toFileOperationError } from './errors.js';
import { releaseUnusedSpace, reserveSpace } from './space-reservation.js';

/** Temp files are named `.es-<8 hex>.tmp`: short enough for FAT, easy to recognise and clean up after a crash. */
export const TEMP_FILE_PATTERN = /^\.es-[0-9a-f]{8}\.tmp$/;

export function isTempFileName(name: string): boolean {
  return TEMP_FILE_PATTERN.test(basename(name));
}

function tempPathBeside(target: string): string {
  return join(dirname(target), `.es-${randomBytes(4).toString('hex')}.tmp`);
}

const RENAME_RETRY_DELAYS_MS = [50, 100, 200, 400, 800, 1600];

/**
 * rename(2), retried on Windows where antivirus scanners and indexers briefly hold files open
 * (MoveFileEx then fails with EPERM/EBUSY/EACCES). On POSIX those errors are real and not retried.
 */
async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      const code = errnoOf(error);
      const transient = process.platform === 'win32' && (code === 'EPERM' || code === 'EBUSY' || code === 'EACCES');
      const delay = RENAME_RETRY_DELAYS_MS[attempt];
      if (!transient || delay === undefined) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Makes a rename durable: on POSIX the directory entry itself must be flushed. Windows has no such call. */
export async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes all buffers, looping over partial writes. */
export async function writeAll(handle: FileHandle, pieces: Buffer[]): Promise<number> {
  let total = 0;
  let rest = pieces.filter((p) => p.length > 0);
  while (rest.length > 0) {
    // writev takes at most IOV_MAX (1024 on Linux) buffers at once.
    const batch = rest.slice(0, 1024);
    const wanted = batch.reduce((sum, p) => sum + p.length, 0);
    const { bytesWritten } = await handle.writev(batch);
    total += bytesWritten;
    if (bytesWritten === wanted) {
      rest = rest.slice(batch.length);
      continue;
    }
    let skip = bytesWritten;
    const remaining: Buffer[] = [];
    for (const piece of rest) {
      if (skip >= piece.length) {
        skip -= piece.length;
        continue;
      }
      remaining.push(skip > 0 ? piece.subarray(skip) : piece);
      skip = 0;
    }
    rest = remaining;
  }
  return total;
}

export interface AtomicWriteOptions {
  /** File mode of the new file (defaults to 0o600 until the caller decides otherwise). */
  readonly mode?: number;
  /** Called after the content is written and flushed, before the rename; may veto by throwing. */
  readonly beforeCommit?: () => Promise<void>;
  /** Timestamps to give the new file (a sealed file keeps its original dates). */
  readonly times?: { readonly atime: Date; readonly mtime: Date };
  /**
   * Flush the content and the directory entry to disk before returning (default true). Only a caller whose
   * input survives a crash anyway may turn it off: a copy written beside an original that stays, as cp and
   * age write theirs. Without it the rename is still atomic, but after a power cut the new name may hold an
   * empty or partial file, which the age format's authentication then refuses to open.
   */
  readonly durable?: boolean;
  /**
   * The size the content will have, when known: that much space is reserved before `produce` writes (see
   * space-reservation.ts), so a volume too small fails before anything is written; `produce` is told whether
   * it was. A wrong guess costs nothing: what was reserved past the end of the written content is given back.
   */
  readonly expectedBytes?: number;
}

/**
 * Crash-safe replacement of `target`: the content goes to a temp file in the same directory (so the rename
 * stays on one volume), is fsynced, renamed over the target, and the directory is fsynced. Whatever happens —
 * a crash, a full disk, a pulled stick — the target is either its old self or the complete new file, never a
 * truncated one. On failure the temp file is removed if the volume still lets us. With `durable: false` the
 * two fsyncs are left out (see AtomicWriteOptions.durable).
 */
export async function writeFileAtomically(
  target: string,
  produce: (handle: FileHandle, space: { readonly reserved: boolean }) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = tempPathBeside(target);
  const durable = options.durable !== false;
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', options.mode ?? 0o600);
    const expected = options.expectedBytes ?? 0;
    const reserved = expected > 0 && (await reserveSpace(handle, expected));
    await produce(handle, { reserved });
    if (reserved) await releaseUnusedSpace(handle, expected);
    if (durable) await handle.sync();
    if (options.times) await handle.utimes(options.times.atime, options.times.mtime);
    await handle.close();
    handle = undefined;
    await options.beforeCommit?.();
    await renameWithRetry(temp, target);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw toFileOperationError(error, target);
  }
  if (!durable) return;
  try {
    await syncDirectory(dirname(target));
  } catch (error) {
    throw toFileOperationError(error, target);
  }
}
