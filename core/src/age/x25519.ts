import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SealedFileError } from '../errors.js';
import { decodeBase64NoPad, encodeBase64NoPad } from './base64.js';
import { bech32Decode, bech32Encode } from './bech32.js';
import type { Stanza } from './header.js';
import { FILE_KEY_SIZE, hkdfSha256, openWithZeroNonce, sealWithZeroNonce, TAG_SIZE } from './primitives.js';

export const X25519_STANZA_TYPE = 'X25519';
const INFO = 'age-encryption.org/v1/X25519';
const RECIPIENT_HRP = 'age';
const IDENTITY_HRP = 'age-secret-key-';
// DER wrappers that turn 32 raw bytes into the key encodings Node's crypto imports.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function privateKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
}

function rawPrivateKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length);
}

/** A public key files are sealed to (`age1...`). */
export class X25519Recipient {
  readonly publicKey: Buffer;
  private readonly keyObject: KeyObject;

  private constructor(publicKey: Buffer) {
    this.publicKey = publicKey;
    this.keyObject = publicKeyFromRaw(publicKey);
  }

  static fromRaw(publicKey: Uint8Array): X25519Recipient {
    if (publicKey.length !== 32) throw new RangeError('an X25519 public key is 32 bytes');
    return new X25519Recipient(Buffer.from(publicKey));
  }

  static parse(text: string): X25519Recipient {
    const decoded = bech32Decode(text.trim());
    if (decoded?.hrp !== RECIPIENT_HRP || decoded.data.length !== 32 || text.trim() !== text.trim().toLowerCase()) {
      throw new SealedFileError('HEADER_INVALID', 'not a valid age X25519 recipient (expected "age1...")');
    }
    return new X25519Recipient(decoded.data);
  }

  toString(): string {
    return bech32Encode(RECIPIENT_HRP, this.publicKey);
  }

  wrap(fileKey: Uint8Array): Stanza {
    const ephemeral = generateKeyPairSync('x25519');
    const share = rawPublicKey(ephemeral.publicKey);
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: this.keyObject });
    const wrapKey = hkdfSha256(shared, Buffer.concat([share, this.publicKey]), INFO);
    return { type: X25519_STANZA_TYPE, args: [encodeBase64NoPad(share)], body: sealWithZeroNonce(wrapKey, fileKey) };
  }
}

/** A private key that opens files sealed to its recipient (`AGE-SECRET-KEY-1...`). Never log it. */
export class X25519Identity {
  readonly recipient: X25519Recipient;
  private readonly privateKey: KeyObject;

  private constructor(privateKey: KeyObject) {
    this.privateKey = privateKey;
    this.recipient = X25519Recipient.fromRaw(rawPublicKey(createPublicKey(privateKey)));
  }

  static generate(): X25519Identity {
    return new X25519Identity(generateKeyPairSync('x25519').privateKey);
  }

  static fromRaw(secret: Uint8Array): X25519Identity {
    if (secret.length !== 32) throw new RangeError('an X25519 secret key is 32 bytes');
    return new X25519Identity(privateKeyFromRaw(secret));
  }

  static parse(text: string): X25519Identity {
    const trimmed = text.trim();
    const decoded = bech32Decode(trimmed);
    if (decoded?.hrp !== IDENTITY_HRP || decoded.data.length !== 32 || trimmed !== trimmed.toUpperCase()) {
      throw new SealedFileError('HEADER_INVALID', 'not a valid age X25519 identity (expected "AGE-SECRET-KEY-1...")');
    }
    return X25519Identity.fromRaw(decoded.data);
  }

  /** The secret in age's text form. Handle with care: this is the key itself. */
  toSecretString(): string {
    return bech32Encode(IDENTITY_HRP, rawPrivateKey(this.privateKey), true);
  }

  /** Keep the key out of accidental logging (JSON.stringify, util.inspect). */
  toJSON(): string {
    return `[X25519Identity ${this.recipient.toString()}]`;
  }

  /**
   * Returns the file key if this stanza was made for us, null if it was made for someone else, and throws
   * a header error if the stanza is malformed (a malformed stanza of our type is never silently skipped).
   */
  unwrap(stanza: Stanza): Buffer | null {
    if (stanza.type !== X25519_STANZA_TYPE) return null;
    const [shareText, ...extra] = stanza.args;
    if (shareText === undefined || extra.length > 0) {
      throw new SealedFileError('HEADER_INVALID', 'X25519 stanza must have exactly one argument');
    }
    const share = decodeBase64NoPad(shareText, 'X25519 ephemeral share');
    if (share.length !== 32) throw new SealedFileError('HEADER_INVALID', 'X25519 ephemeral share must be 32 bytes');
    if (stanza.body.length !== FILE_KEY_SIZE + TAG_SIZE) {
      throw new SealedFileError('HEADER_INVALID', 'X25519 stanza body must be 32 bytes');
    }
    let shared: Buffer;
    try {
      shared = diffieHellman({ privateKey: this.privateKey, publicKey: publicKeyFromRaw(share) });
    } catch (cause) {
      // OpenSSL refuses low-order points: the spec requires rejecting an all-zero shared secret.
      throw new SealedFileError('HEADER_INVALID', 'X25519 ephemeral share is a low-order point', { cause });
    }
    if (shared.every((b) => b === 0)) throw new SealedFileError('HEADER_INVALID', 'X25519 shared secret is all zero');
    const wrapKey = hkdfSha256(shared, Buffer.concat([share, this.recipient.publicKey]), INFO);
    return openWithZeroNonce(wrapKey, stanza.body);
  }
}
