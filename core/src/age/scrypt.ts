import { randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { SealedFileError } from '../errors.js';
import { decodeBase64NoPad, encodeBase64NoPad } from './base64.js';
import type { Stanza } from './header.js';
import { FILE_KEY_SIZE, openWithZeroNonce, sealWithZeroNonce, TAG_SIZE } from './primitives.js';

export const SCRYPT_STANZA_TYPE = 'scrypt';
const SALT_LABEL = 'age-encryption.org/v1/scrypt';
/** What we write: the same work factor as the age CLI (about 1 s and 256 MiB). */
export const DEFAULT_SCRYPT_LOG_N = 18;
/** The most we agree to compute when opening: 2^22 costs 4 GiB and several seconds. */
export const MAX_SCRYPT_LOG_N = 22;
const WORK_FACTOR = /^[1-9][0-9]?$/;

function deriveKey(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  const r = 8;
  return new Promise((resolve, reject) => {
    scryptCallback(
      Buffer.from(passphrase, 'utf8'),
      Buffer.concat([Buffer.from(SALT_LABEL, 'latin1'), salt]),
      32,
      { N, r, p: 1, maxmem: 128 * N * r + 16 * 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export async function scryptWrap(fileKey: Uint8Array, passphrase: string, logN = DEFAULT_SCRYPT_LOG_N): Promise<Stanza> {
  const salt = randomBytes(16);
  const key = await deriveKey(passphrase, salt, logN);
  return { type: SCRYPT_STANZA_TYPE, args: [encodeBase64NoPad(salt), String(logN)], body: sealWithZeroNonce(key, fileKey) };
}

/** Validates the stanza fully before spending any work on the passphrase. */
export async function scryptUnwrap(stanza: Stanza, passphrase: string, maxLogN = MAX_SCRYPT_LOG_N): Promise<Buffer | null> {
  if (stanza.type !== SCRYPT_STANZA_TYPE) return null;
  if (stanza.args.length !== 2) throw new SealedFileError('HEADER_INVALID', 'scrypt stanza must have exactly two arguments');
  const [saltText, logNText] = stanza.args as [string, string];
  const salt = decodeBase64NoPad(saltText, 'scrypt salt');
  if (salt.length !== 16) throw new SealedFileError('HEADER_INVALID', 'scrypt salt must be 16 bytes');
  if (!WORK_FACTOR.test(logNText)) throw new SealedFileError('HEADER_INVALID', 'scrypt work factor must be a decimal number without leading zeros');
  const logN = Number(logNText);
  if (logN > maxLogN) {
    throw new SealedFileError('PASSPHRASE_WORK_FACTOR_TOO_HIGH', `scrypt work factor 2^${logN} is above the accepted maximum 2^${maxLogN}`);
  }
  if (stanza.body.length !== FILE_KEY_SIZE + TAG_SIZE) throw new SealedFileError('HEADER_INVALID', 'scrypt stanza body must be 32 bytes');
  const key = await deriveKey(passphrase, salt, logN);
  return openWithZeroNonce(key, stanza.body);
}
