import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { StartupError } from '../errors.js';

const MASTER_KEY_BYTES = 32;
const BOX_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The server master key. Every private key at rest (zone identities, the CA and TLS keys, the signing key)
 * is encrypted under a key derived from it, and the log chains are HMACed with another derived key, so a
 * copy of the database alone reveals no key and cannot forge a log row. Never log it.
 */
export class MasterKey {
  private readonly boxKey: Buffer;
  private readonly chainKey: Buffer;

  private constructor(raw: Buffer) {
    this.boxKey = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'exitseal.dev/secret-box/v1', 32));
    this.chainKey = Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), 'exitseal.dev/log-chain/v1', 32));
  }

  static fromBase64(text: string, source: string): MasterKey {
    const raw = Buffer.from(text.trim(), 'base64');
    if (raw.length !== MASTER_KEY_BYTES) throw new StartupError('MASTER_KEY_INVALID', `the master key from ${source} must be ${MASTER_KEY_BYTES} bytes of base64`);
    return new MasterKey(raw);
  }

  /**
   * Loads the key from the environment variable if set, else from the file, which must not be readable by
   * group or others (like ssh refuses a loose private key).
   */
  static load(options: { envValue: string | undefined; filePath: string }): MasterKey {
    if (options.envValue !== undefined && options.envValue !== '') return MasterKey.fromBase64(options.envValue, 'EXITSEAL_MASTER_KEY');
    let mode: number;
    try {
      mode = statSync(options.filePath).mode;
    } catch (cause) {
      throw new StartupError('MASTER_KEY_MISSING', `no master key: set EXITSEAL_MASTER_KEY or create ${options.filePath} (run "exitseal-server init")`, cause);
    }
    if ((mode & 0o077) !== 0) {
      throw new StartupError('MASTER_KEY_PERMISSIONS', `${options.filePath} is readable by others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`);
    }
    return MasterKey.fromBase64(readFileSync(options.filePath, 'utf8'), options.filePath);
  }

  /** Writes a new random key to `filePath` with mode 0600; refuses to overwrite an existing key. */
  static createFile(filePath: string): void {
    writeFileSync(filePath, `${randomBytes(MASTER_KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }

  /** AES-256-GCM; `label` is bound as associated data so a ciphertext cannot be moved to another purpose. */
  seal(plaintext: Uint8Array, label: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.boxKey, iv);
    cipher.setAAD(Buffer.from(label, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.from([BOX_VERSION]), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Uint8Array, label: string): Buffer {
    const box = Buffer.from(sealed);
    if (box.length < 1 + IV_BYTES + TAG_BYTES || box[0] !== BOX_VERSION) throw new StartupError('SECRET_CORRUPT', `stored secret "${label}" is malformed`);
    const decipher = createDecipheriv('aes-256-gcm', this.boxKey, box.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(Buffer.from(label, 'utf8'));
    decipher.setAuthTag(box.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(box.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch (cause) {
      throw new StartupError('SECRET_UNREADABLE', `stored secret "${label}" does not open with this master key (wrong key or tampered data)`, cause);
    }
  }

  /** HMAC-SHA256 for the tamper-evident log chains. */
  chainMac(data: string): string {
    return createHmac('sha256', this.chainKey).update(data, 'utf8').digest('hex');
  }

  toJSON(): string {
    return '[MasterKey]';
  }
}
