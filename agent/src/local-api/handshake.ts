import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The local API's handshake: before any request, the client proves it can read the token the agent wrote
 * for the person whose socket or pipe it connected to (a file only that person, SYSTEM/root and
 * Administrators can read), and the agent proves it wrote that token. Neither side sends the token itself:
 * each sends an HMAC of both nonces under it, so
 *  - a person who cannot read the token file cannot act for its owner (on Windows, Node cannot put a DACL on
 *    a named pipe, so anyone may connect to any pipe: this is the check there);
 *  - a process squatting the pipe name before the agent starts learns nothing it could replay, and a client
 *    sees at once that the other end is not the agent;
 *  - a recorded exchange cannot be replayed (fresh nonces on both sides).
 *
 *   client -> {"hello":{"nonce":"<32 bytes hex>"}}
 *   agent  -> {"hello":{"nonce":"<32 bytes hex>","proof":"<HMAC-SHA256(token, 'exitseal-agent server' | cN | sN) hex>"}}
 *   client -> {"proof":"<HMAC-SHA256(token, 'exitseal-agent client' | cN | sN) hex>"}
 *   agent  -> {"ready":{"osUser":"..."}}, then JSON-line requests as before;
 * anything else, a wrong proof or no handshake within the time limit: {"id":null,"error":{"code":...}}, closed.
 */

export const TOKEN_BYTES = 32;
export const NONCE_BYTES = 32;
const HEX_NONCE = /^[0-9a-f]{64}$/;

export type ProofRole = 'server' | 'client';

export function newToken(): Buffer {
  return randomBytes(TOKEN_BYTES);
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('hex');
}

export function isNonce(value: unknown): value is string {
  return typeof value === 'string' && HEX_NONCE.test(value);
}

export function proofOf(token: Buffer, role: ProofRole, clientNonce: string, serverNonce: string): string {
  return createHmac('sha256', token).update(`exitseal-agent ${role}\n${clientNonce}\n${serverNonce}`).digest('hex');
}

/** Constant-time comparison of a received proof with the expected one. */
export function proofMatches(expected: string, received: unknown): boolean {
  if (typeof received !== 'string' || received.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(received, 'latin1'));
}

/** The token file's text: the token in hex and a newline. */
export function encodeToken(token: Buffer): string {
  return `${token.toString('hex')}\n`;
}

export function decodeToken(text: string): Buffer | undefined {
  const hex = text.trim();
  return /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}
