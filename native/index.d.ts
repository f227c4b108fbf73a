/** The compiled addon (src/). Every argument is checked there; bad ones throw TypeError or RangeError. */
export interface StreamBinding {
  /**
   * Encrypts `plaintext` as age STREAM chunks numbered from `counter` into `output` (chunk, tag, chunk, tag...)
   * and returns the bytes written. Without `final` the plaintext must be whole 64 KiB chunks; with it the last
   * chunk may be shorter (or empty, when it is the only one) and is flagged final.
   */
  sealChunks(key: Uint8Array, counter: number, plaintext: Uint8Array, final: boolean, output: Uint8Array): number;
  /**
   * Decrypts encrypted chunks numbered from `counter` into `output` and returns how many authenticated; it
   * stops at the first that does not (and wipes that chunk's output). With `final` the last chunk is checked
   * as the final one and may be shorter.
   */
  openChunks(key: Uint8Array, counter: number, ciphertext: Uint8Array, final: boolean, output: Uint8Array): number;
  /**
   * Preallocates the first `length` bytes (at least 1) of the open file `fd` without changing its size, in the
   * thread pool. Resolves true when reserved, false when the file system or platform cannot preallocate (only
   * Linux can, so far); rejects with an Error whose code is the errno's name (ENOSPC, EFBIG, EIO...).
   */
  reserveSpace(fd: number, length: number): Promise<boolean>;
  /**
   * In the thread pool: reads `length` bytes of `inFd` at `inPosition` into `input`, seals them as sealChunks
   * would into `output`, and writes the result to `outFd` at `outPosition`; resolves with the bytes written.
   * Until it settles, neither buffer may be touched and neither file closed. A short read rejects with
   * ERR_INPUT_SHRANK, a system error with the errno's name as code. Absent on Windows (POSIX pread/pwrite).
   */
  sealFileBlock?(
    key: Uint8Array,
    counter: number,
    input: Uint8Array,
    final: boolean,
    output: Uint8Array,
    length: number,
    inFd: number,
    inPosition: number,
    outFd: number,
    outPosition: number,
  ): Promise<number>;
}

/** null when the addon was not built (no compiler at install time, say): callers fall back to node:crypto. */
export declare const binding: StreamBinding | null;
/** Why `binding` is null; null when it loaded. */
export declare const loadError: string | null;
