import { execFile } from 'node:child_process';
import { ExitSealError } from '@exitseal/core';

/**
 * The one place the agent starts an OS tool (PowerShell, reg and icacls on Windows, system_profiler on macOS): by
 * absolute path with an argument list (execFile, no shell, so nothing is ever parsed as a command line), a
 * timeout and an output cap, with failures turned into typed errors.
 */

export type CommandErrorCode =
  | 'COMMAND_NOT_FOUND' // the tool is not installed (or not at that path)
  | 'COMMAND_TIMED_OUT' // killed after the timeout
  | 'COMMAND_FAILED' // ran and exited non-zero, or was killed by a signal
  | 'OUTPUT_TOO_LARGE'; // more output than the cap: something is wrong, do not parse half of it

export class CommandError extends ExitSealError {
  declare readonly code: CommandErrorCode;

  constructor(code: CommandErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { kind: 'fault', cause: options.cause });
    this.name = 'CommandError';
  }
}

export interface CommandOptions {
  readonly timeoutMs: number;
  readonly maxOutputBytes: number;
}

/** Runs a command and resolves with its standard output (UTF-8); see CommandError for the failures. */
export type CommandRunner = (file: string, args: readonly string[], options: CommandOptions) => Promise<string>;

function describe(file: string): string {
  return file.split(/[\\/]/).at(-1) ?? file;
}

export const runCommand: CommandRunner = (file, args, options) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { encoding: 'utf8', timeout: options.timeoutMs, maxBuffer: options.maxOutputBytes, windowsHide: true, shell: false },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const name = describe(file);
        const details = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        if (details.code === 'ENOENT') reject(new CommandError('COMMAND_NOT_FOUND', `${name} was not found at ${file}`, { cause: error }));
        else if (details.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') reject(new CommandError('OUTPUT_TOO_LARGE', `${name} wrote more than ${options.maxOutputBytes} bytes`, { cause: error }));
        else if (details.killed === true && details.signal === 'SIGTERM') reject(new CommandError('COMMAND_TIMED_OUT', `${name} did not answer within ${options.timeoutMs} ms`, { cause: error }));
        else reject(new CommandError('COMMAND_FAILED', `${name} failed: ${firstLine(stderr) || error.message}`, { cause: error }));
      },
    );
  });

function firstLine(text: string): string {
  return text.split(/\r?\n/).find((line) => line.trim() !== '')?.trim().slice(0, 300) ?? '';
}
