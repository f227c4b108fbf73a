/**
 * Errors carry a stable machine-readable code, a human message and (optionally) the underlying cause.
 * `kind` tells a client error (bad input: a malformed file, a wrong key, a request that fails validation)
 * apart from a fault (something broke on our side or in the environment).
 */
export type ErrorKind = 'client' | 'fault';

export class ExitSealError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;

  constructor(code: string, message: string, options: { kind?: ErrorKind; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExitSealError';
    this.code = code;
    this.kind = options.kind ?? 'client';
  }
}

/**
 * Failure kinds of the age format, named after the categories of the C2SP age test kit so tests can
 * compare one to one.
 */
export type SealedFileErrorCode =
  | 'HEADER_INVALID' // "header failure": the header does not parse or breaks a rule of the spec
  | 'HEADER_TOO_LARGE' // a header larger than we accept (also a "header failure")
  | 'HMAC_MISMATCH' // "HMAC failure": the header was altered, or the file key is wrong
  | 'NO_MATCHING_IDENTITY' // "no match": none of our keys opens any stanza
  | 'PAYLOAD_INVALID' // "payload failure": truncated, reordered, altered or trailing payload data
  | 'PASSPHRASE_WORK_FACTOR_TOO_HIGH' // scrypt work factor above our bound (a "header failure")
  | 'NOT_AGE' // not an age v1 file at all
  | 'ARMOR_INVALID'; // "armor failure": ASCII armor that breaks the strict PEM rules

export class SealedFileError extends ExitSealError {
  declare readonly code: SealedFileErrorCode;

  constructor(code: SealedFileErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { kind: 'client', ...options });
    this.name = 'SealedFileError';
  }
}

export function isExitSealError(value: unknown): value is ExitSealError {
  return value instanceof ExitSealError;
}
