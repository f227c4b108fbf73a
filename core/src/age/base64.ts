import { SealedFileError } from '../errors.js';

const CANONICAL = /^[A-Za-z0-9+/]*$/;

/** Unpadded standard base64, as the age header uses it. */
export function encodeBase64NoPad(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, '');
}

/**
 * Strict decoding: no padding, no whitespace, no URL-safe alphabet, and canonical (the unused low bits of
 * the last character must be zero), as the age spec requires. Node's decoder is lenient about all of
 * these, so we check by re-encoding.
 */
export function decodeBase64NoPad(text: string, what: string): Buffer {
  if (!CANONICAL.test(text) || text.length % 4 === 1) {
    throw new SealedFileError('HEADER_INVALID', `${what} is not valid unpadded base64`);
  }
  const bytes = Buffer.from(text, 'base64');
  if (encodeBase64NoPad(bytes) !== text) {
    throw new SealedFileError('HEADER_INVALID', `${what} is not canonical base64`);
  }
  return bytes;
}
