import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDirectory, writeAll } from '../files/atomic-write.js';
import { FileOperationError, toFileOperationError } from '../files/errors.js';
import { BLOCK_SIZE } from '../files/sealed-file-io.js';

export interface QuarantineResult {
  /** Where the plaintext now is, on this PC. */
  readonly quarantinePath: string;
  readonly sha256: string;
  readonly size: number;
  /** False when the media refused the removal (read-only, gone): the plaintext is then still there too. */
  readonly removedFromMedia: boolean;
  readonly removalError?: unknown;
}

function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
}

/**
 * Moves plaintext off a volume without ever risking the only copy: the file is copied into the local
 * quarantine folder, flushed to disk (file and directories), checked to be what is still on the media, and
 * only then removed from the media.
 */
export class Quarantine {
  constructor(
    private readonly root: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async moveOff(path: string, volumeKey: string, relPath: string): Promise<QuarantineResult> {
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    const destination = join(this.root, safeSegment(volumeKey), `${stamp}-${randomBytes(3).toString('hex')}`, ...relPath.split('/').map(safeSegment));
    let source;
    try {
      source = await open(path, 'r');
    } catch (error) {
      throw toFileOperationError(error, path);
    }
    let sha256: string;
    let size = 0;
    try {
      const before = await source.stat();
      await mkdir(dirname(destination), { recursive: true, mode: 0o700 });
      const copy = await open(destination, 'wx', 0o600);
      const hash = createHash('sha256');
      try {
        const buffer = Buffer.allocUnsafe(BLOCK_SIZE);
        for (;;) {
          const { bytesRead } = await source.read(buffer, 0, BLOCK_SIZE, size);
          if (bytesRead === 0) break;
          const block = buffer.subarray(0, bytesRead);
          hash.update(block);
          await writeAll(copy, [block]);
          size += bytesRead;
        }
        await copy.sync();
      } finally {
        await copy.close();
      }
      await syncDirectory(dirname(destination));
      sha256 = hash.digest('hex');
      const after = await stat(path);
      if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ino !== before.ino || size !== before.size) {
        await unlink(destination).catch(() => undefined);
        throw new FileOperationError('SOURCE_CHANGED', `${path} changed while it was being quarantined`, { kind: 'client' });
      }
    } catch (error) {
      throw toFileOperationError(error, path);
    } finally {
      await source.close();
    }
    try {
      await unlink(path);
      await syncDirectory(dirname(path)).catch(() => undefined);
      return { quarantinePath: destination, sha256, size, removedFromMedia: true };
    } catch (error) {
      return { quarantinePath: destination, sha256, size, removedFromMedia: false, removalError: toFileOperationError(error, path) };
    }
  }
}
