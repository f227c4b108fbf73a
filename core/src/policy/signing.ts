import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { ExitSealError } from '../errors.js';

// DER prefixes that turn 32 raw bytes into keys Node imports (RFC 8410).
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export class SignatureError extends ExitSealError {
  constructor(code: 'SIGNATURE_INVALID' | 'SIGNED_DATA_INVALID' | 'TOKEN_EXPIRED' | 'TOKEN_MISMATCH', message: string, options: { cause?: unknown } = {}) {
    super(code, message, { kind: 'client', ...options });
    this.name = 'SignatureError';
  }
}

/** The server's Ed25519 key that signs policy bundles and release tokens. Never log it. */
export class SigningKey {
  readonly publicKey: VerifyKey;
  private readonly privateKey: KeyObject;

  private constructor(privateKey: KeyObject) {
    this.privateKey = privateKey;
    this.publicKey = VerifyKey.fromKeyObject(createPublicKey(privateKey));
  }

  static generate(): SigningKey {
    return new SigningKey(generateKeyPairSync('ed25519').privateKey);
  }

  static fromRaw(secret: Uint8Array): SigningKey {
    if (secret.length !== 32) throw new RangeError('an Ed25519 secret key is 32 bytes');
    return new SigningKey(createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8' }));
  }

  /** The 32-byte seed. Handle with care: this is the key itself. */
  toRaw(): Buffer {
    return this.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(ED25519_PKCS8_PREFIX.length);
  }

  sign(data: Uint8Array): Buffer {
    return sign(null, data, this.privateKey);
  }

  toJSON(): string {
    return `[SigningKey ${this.publicKey.toBase64()}]`;
  }
}

/** The public half, which agents pin at enrolment (32 raw bytes, base64). */
export class VerifyKey {
  readonly raw: Buffer;
  private readonly keyObject: KeyObject;

  private constructor(raw: Buffer, keyObject: KeyObject) {
    this.raw = raw;
    this.keyObject = keyObject;
  }

  static fromKeyObject(key: KeyObject): VerifyKey {
    return new VerifyKey(key.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length), key);
  }

  static fromBase64(text: string): VerifyKey {
    const raw = Buffer.from(text, 'base64');
    if (raw.length !== 32 || raw.toString('base64') !== text) throw new SignatureError('SIGNED_DATA_INVALID', 'an Ed25519 public key is 32 bytes of base64');
    return new VerifyKey(raw, createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' }));
  }

  toBase64(): string {
    return this.raw.toString('base64');
  }

  verify(data: Uint8Array, signature: Uint8Array): boolean {
    if (signature.length !== 64) return false;
    return verify(null, data, this.keyObject, signature);
  }
}
