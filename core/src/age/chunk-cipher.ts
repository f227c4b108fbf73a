import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_SIZE } from './primitives.js';

/** Plaintext bytes per STREAM chunk (age v1). */
export const CHUNK_SIZE = 64 * 1024;
export const ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;

/** What openChunks verified: the plaintext of the chunks that authenticated, in order, and how many did. */
export interface OpenedChunks {
  readonly plaintext: Buffer[];
  readonly authenticated: number;
}

/**
 * ChaCha20-Poly1305 over runs of consecutive STREAM chunks, numbered from `counter` (the 11-byte big-endian
 * chunk counter of the nonce), with the final-chunk flag on the last chunk of a run when `final` is set.
 * It knows nothing of where chunks begin in a file: PayloadEncryptor and PayloadDecryptor cut the runs.
 *
 * nodeChunkCipher below is the reference, on node:crypto. The agent may supply one that drives the same
 * OpenSSL primitive from native code (see native/); both must give the same bytes and the same checks, which
 * the tests compare.
 */
export interface ChunkCipher {
  /** Shown in diagnostics and in the benchmark. */
  readonly name: string;
  /**
   * Encrypts `plaintext` as chunks of CHUNK_SIZE bytes; with `final` the last may be shorter (or empty, when
   * it is the only one) and is flagged final, without it the plaintext must be whole chunks. Returns the
   * ciphertext (chunk, tag, chunk, tag...) as pieces to write in order; none shares memory with the input.
   * `output`, when given, is room for the result (sealedRunLength bytes at least) that the cipher may write
   * into and return views of; without it, or if the cipher does not use it, the pieces are fresh buffers.
   */
  sealChunks(key: Buffer, counter: number, plaintext: Buffer, final: boolean, output?: Buffer): Buffer[];
  /**
   * Decrypts encrypted chunks (chunk || tag); with `final` the last may be shorter (but at least a tag) and is
   * checked as the final chunk, without it all must be whole and non-final. Stops at the first chunk that does
   * not authenticate: plaintext of that chunk or any after it is never returned. `output` as for sealChunks
   * (room for the whole plaintext: the ciphertext's length less a tag per chunk).
   */
  openChunks(key: Buffer, counter: number, ciphertext: Buffer, final: boolean, output?: Buffer): OpenedChunks;
}

/** How many chunks a run to seal holds; throws RangeError for a run that breaks the rules above. */
export function plaintextChunkCount(length: number, final: boolean): number {
  if (!final && (length === 0 || length % CHUNK_SIZE !== 0)) throw new RangeError('without final, plaintext must be one or more whole chunks');
  return length === 0 ? 1 : Math.ceil(length / CHUNK_SIZE);
}

/** How many chunks a run to open holds; throws RangeError for a run that breaks the rules above. */
export function ciphertextChunkCount(length: number, final: boolean): number {
  if (!final) {
    if (length % ENCRYPTED_CHUNK_SIZE !== 0) throw new RangeError('without final, ciphertext must be whole chunks');
    return length / ENCRYPTED_CHUNK_SIZE;
  }
  const chunks = Math.ceil(length / ENCRYPTED_CHUNK_SIZE);
  if (chunks === 0 || length - (chunks - 1) * ENCRYPTED_CHUNK_SIZE < TAG_SIZE) throw new RangeError('with final, the last chunk must hold at least a tag');
  return chunks;
}

/** Bytes sealChunks produces for a run of `length` plaintext bytes. */
export function sealedRunLength(length: number, final: boolean): number {
  return length + plaintextChunkCount(length, final) * TAG_SIZE;
}

function chunkNonce(counter: number, last: boolean): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError('counter must be an integer from 0 to 2^53 - 1');
  const nonce = Buffer.alloc(12);
  // 11-byte big-endian counter; 2^53 chunks (512 PiB) is far beyond any file, so two words suffice.
  nonce.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 3);
  nonce.writeUInt32BE(counter >>> 0, 7);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * The reference ChunkCipher: one node:crypto cipher per chunk. Node's decipher.update() returns bytes before
 * the tag is checked, so a chunk's plaintext is kept back until its final() succeeds. It ignores `output`:
 * update() always allocates, and copying into `output` would only add work.
 */
export const nodeChunkCipher: ChunkCipher = {
  name: 'node:crypto',

  sealChunks(key, counter, plaintext, final) {
    const chunks = plaintextChunkCount(plaintext.length, final);
    const out: Buffer[] = [];
    for (let index = 0; index < chunks; index++) {
      const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter + index, final && index === chunks - 1), { authTagLength: TAG_SIZE });
      const chunk = plaintext.subarray(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE);
      if (chunk.length > 0) out.push(cipher.update(chunk));
      cipher.final();
      out.push(cipher.getAuthTag());
    }
    return out;
  },

  openChunks(key, counter, ciphertext, final) {
    const chunks = ciphertextChunkCount(ciphertext.length, final);
    const plaintext: Buffer[] = [];
    for (let index = 0; index < chunks; index++) {
      const chunk = ciphertext.subarray(index * ENCRYPTED_CHUNK_SIZE, (index + 1) * ENCRYPTED_CHUNK_SIZE);
      const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter + index, final && index === chunks - 1), { authTagLength: TAG_SIZE });
      decipher.setAuthTag(chunk.subarray(chunk.length - TAG_SIZE));
      const opened = decipher.update(chunk.subarray(0, chunk.length - TAG_SIZE));
      try {
        decipher.final();
      } catch {
        return { plaintext, authenticated: index };
      }
      plaintext.push(opened);
    }
    return { plaintext, authenticated: chunks };
  },
};
