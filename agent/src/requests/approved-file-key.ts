import type { Identity, Stanza } from '@exitseal/core';

/**
 * The file key of one sealed file, handed over by the server after a decrypt request was approved. It
 * offers the key for the file's X25519 stanza; the header MAC then proves it is the right key, so it can
 * open exactly that one file and nothing else.
 */
export class ApprovedFileKey implements Identity {
  constructor(private readonly fileKey: Buffer) {}

  unwrap(stanza: Stanza): Buffer | null {
    return stanza.type === 'X25519' ? Buffer.from(this.fileKey) : null;
  }

  toJSON(): string {
    return '[ApprovedFileKey]';
  }
}
