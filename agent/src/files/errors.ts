import { ExitSealError } from '@exitseal/core';

/**
 * File-system failures while sealing or opening, named for what the user or the agent should do next.
 * All of them leave the original file as it was.
 */
export type FileOperationErrorCode =
  | 'NO_SPACE' // the target volume is full, or its file system cannot hold a file this large (FAT32: 4 GiB)
  | 'SOURCE_VANISHED' // the file was deleted or renamed while we worked
  | 'MEDIA_GONE' // the volume disappeared (stick pulled out) or returned an I/O error
  | 'SOURCE_CHANGED' // the file was written again while we read it: try again later
  | 'PERMISSION_DENIED'
  | 'NOT_A_FILE'
  | 'TARGET_EXISTS'
  | 'RECIPIENT_HEADER_INVALID' // the server's header for an outside recipient is not one scrypt stanza
  | 'IO_FAILED';

export class FileOperationError extends ExitSealError {
  declare readonly code: FileOperationErrorCode;

  constructor(code: FileOperationErrorCode, message: string, options: { cause?: unknown; kind?: 'client' | 'fault' } = {}) {
    super(code, message, { kind: options.kind ?? 'fault', cause: options.cause });
    this.name = 'FileOperationError';
  }
}

export function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Maps a Node system error to a FileOperationError that says what happened, keeping the original as cause. */
export function toFileOperationError(error: unknown, path: string): unknown {
  if (error instanceof ExitSealError) return error;
  switch (errnoOf(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new FileOperationError('NO_SPACE', `no space left on the volume of ${path}`, { cause: error });
    case 'EFBIG':
      return new FileOperationError('NO_SPACE', `the file system of ${path} cannot hold a file this large (FAT32 stops at 4 GiB)`, { cause: error });
    case 'ENOENT':
      return new FileOperationError('SOURCE_VANISHED', `${path} no longer exists`, { cause: error, kind: 'client' });
    case 'EIO':
    case 'ENODEV':
    case 'ENXIO':
    case 'ESTALE':
    case 'ENOTCONN':
    case 'ECONNABORTED':
      // A FUSE volume (exFAT sticks on Linux) whose daemon died with the device fails the requests in flight
      // with ECONNABORTED and every later one with ENOTCONN: both mean the stick went away.
      return new FileOperationError('MEDIA_GONE', `the volume of ${path} is gone or failing`, { cause: error });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new FileOperationError('PERMISSION_DENIED', `not allowed to write ${path}`, { cause: error, kind: 'client' });
    case 'EISDIR':
      return new FileOperationError('NOT_A_FILE', `${path} is a directory`, { cause: error, kind: 'client' });
    case 'EEXIST':
      return new FileOperationError('TARGET_EXISTS', `${path} already exists`, { cause: error, kind: 'client' });
    default:
      return error;
  }
}
