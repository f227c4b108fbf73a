import { SealedFileError } from '../errors.js';
import type { Stanza } from '../age/header.js';
import { SCRYPT_STANZA_TYPE, scryptUnwrap, MAX_SCRYPT_LOG_N } from '../age/scrypt.js';
import { X25519Identity } from '../age/x25519.js';

/** Something that may recover a file key from one stanza. */
export interface Identity {
  /** null: this stanza is not for us. Throws SealedFileError if the stanza is malformed. */
  unwrap(stanza: Stanza): Buffer | null | Promise<Buffer | null>;
}

export class PassphraseIdentity implements Identity {
  private readonly passphrase: string;
  private readonly maxLogN: number;

  constructor(passphrase: string, maxLogN = MAX_SCRYPT_LOG_N) {
    this.passphrase = passphrase;
    this.maxLogN = maxLogN;
  }

  unwrap(stanza: Stanza): Promise<Buffer | null> {
    return scryptUnwrap(stanza, this.passphrase, this.maxLogN);
  }

  toJSON(): string {
    return '[PassphraseIdentity]';
  }
}

/**
 * Tries every identity on every stanza and returns the first file key found. Enforces the spec's rule that
 * a scrypt stanza must be alone (otherwise a passphrase file could be silently opened by someone else).
 */
export async function findFileKey(stanzas: readonly Stanza[], identities: readonly Identity[]): Promise<Buffer> {
  if (stanzas.some((s) => s.type === SCRYPT_STANZA_TYPE) && stanzas.length !== 1) {
    throw new SealedFileError('HEADER_INVALID', 'a scrypt (passphrase) stanza must be the only stanza in the header');
  }
  for (const identity of identities) {
    for (const stanza of stanzas) {
      const fileKey = await identity.unwrap(stanza);
      if (fileKey !== null) {
        if (fileKey.length !== 16) throw new SealedFileError('HEADER_INVALID', 'wrapped file key is not 16 bytes');
        return fileKey;
      }
    }
  }
  const types = [...new Set(stanzas.map((s) => s.type))].join(', ');
  throw new SealedFileError('NO_MATCHING_IDENTITY', `none of the given keys can open this file (it is sealed to: ${types})`);
}

export function isX25519Identity(identity: Identity): identity is X25519Identity {
  return identity instanceof X25519Identity;
}
