// Interoperability with an independent age implementation, the age-encryption npm package (typage), in
// memory: what core seals, typage opens, and the other way round, at sizes around the 64 KiB chunk size.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import {
  CHUNK_SIZE,
  createSealer,
  DEFAULT_SCRYPT_LOG_N,
  inspect,
  openStream,
  PassphraseIdentity,
  readHeader,
  rekeyForPassphrase,
  sealStream,
  unlockHeader,
  X25519Identity,
  X25519Recipient,
  type Identity,
} from '../src/index.js';
import { asyncPieces, collect, patternBytes, splitEvery } from './helpers.js';

const SIZES: readonly number[] = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * 1024 * 1024 + 123];
/** A small scrypt work factor keeps the many passphrase cases fast; the default is checked once below. */
const TEST_LOG_N = 10;
const ZONE = { zoneId: 'mynumber', keyVersion: 3 } as const;

async function sealWithCore(plaintext: Buffer, recipients: readonly X25519Recipient[]): Promise<Buffer> {
  // Feed odd-sized blocks so pushes straddle chunk boundaries, as reads from a file would.
  return collect(sealStream(splitEvery(plaintext, 40_000), { recipients, meta: ZONE }));
}

async function openWithCore(file: Uint8Array, identities: readonly Identity[]): Promise<Buffer> {
  const opened = await openStream(splitEvery(file, 50_000), identities);
  return collect(opened.plaintext);
}

/** The passphrase copy of a core-sealed file: a new header from rekeyForPassphrase plus the unchanged payload. */
async function passphraseCopy(sealed: Buffer, identity: X25519Identity, logN: number): Promise<{ file: Buffer; passphrase: string }> {
  const { header, rest } = await readHeader(asyncPieces([sealed]));
  const fileKey = await unlockHeader(header, [identity]);
  const copy = await rekeyForPassphrase(fileKey, { logN });
  assert.deepEqual(inspect(copy.header).stanzaTypes, ['scrypt']);
  assert.equal(rest.length, sealed.length - header.length);
  return { file: Buffer.concat([copy.header, rest]), passphrase: copy.passphrase };
}

describe('interop with age-encryption (typage)', () => {
  const zoneIdentity = X25519Identity.generate();

  test('keys: core identities parse in typage and typage identities parse in core, to the same recipient', async () => {
    assert.equal(await identityToRecipient(zoneIdentity.toSecretString()), zoneIdentity.recipient.toString());
    const theirs = await generateX25519Identity();
    const parsed = X25519Identity.parse(theirs);
    assert.equal(parsed.toSecretString(), theirs);
    assert.equal(parsed.recipient.toString(), await identityToRecipient(theirs));
    assert.equal(X25519Recipient.parse(await identityToRecipient(theirs)).toString(), parsed.recipient.toString());
  });

  for (const size of SIZES) {
    describe(`${size} bytes`, () => {
      const plaintext = patternBytes(size, size);

      test('core seals (X25519 + ExitSeal meta stanza), typage opens', async () => {
        const sealed = await sealWithCore(plaintext, [zoneIdentity.recipient]);
        assert.deepEqual(inspect(sealed.subarray(0, 1024)).stanzaTypes, ['exitseal.dev/meta', 'X25519']);
        const decrypter = new Decrypter();
        decrypter.addIdentity(zoneIdentity.toSecretString());
        assert.ok(Buffer.from(await decrypter.decrypt(sealed)).equals(plaintext));
      });

      test('core re-keys for a passphrase (scrypt only, payload unchanged), typage opens', async () => {
        const sealed = await sealWithCore(plaintext, [zoneIdentity.recipient]);
        const { file, passphrase } = await passphraseCopy(sealed, zoneIdentity, TEST_LOG_N);
        const decrypter = new Decrypter();
        decrypter.addPassphrase(passphrase);
        assert.ok(Buffer.from(await decrypter.decrypt(file)).equals(plaintext));
      });

      test('typage encrypts to an X25519 recipient, core opens', async () => {
        const encrypter = new Encrypter();
        encrypter.addRecipient(zoneIdentity.recipient.toString());
        const file = await encrypter.encrypt(plaintext);
        assert.equal(inspect(file.subarray(0, 1024)).kind, 'age');
        assert.ok((await openWithCore(file, [zoneIdentity])).equals(plaintext));
      });

      test('typage encrypts with a passphrase, core opens', async () => {
        const encrypter = new Encrypter();
        encrypter.setScryptWorkFactor(TEST_LOG_N);
        encrypter.setPassphrase('correct horse battery staple');
        const file = await encrypter.encrypt(plaintext);
        assert.ok((await openWithCore(file, [new PassphraseIdentity('correct horse battery staple')])).equals(plaintext));
      });
    });
  }

  test('typage file for several recipients opens with the one identity core holds; a stranger gets no match', async () => {
    const encrypter = new Encrypter();
    encrypter.addRecipient(await identityToRecipient(await generateX25519Identity()));
    encrypter.addRecipient(zoneIdentity.recipient.toString());
    const plaintext = patternBytes(1000, 7);
    const file = await encrypter.encrypt(plaintext);
    assert.ok((await openWithCore(file, [zoneIdentity])).equals(plaintext));
    await assert.rejects(openWithCore(file, [X25519Identity.generate()]), { name: 'SealedFileError', code: 'NO_MATCHING_IDENTITY' });
  });

  test('core file for a zone and a recovery recipient opens in typage with either identity', async () => {
    const recovery = X25519Identity.generate();
    const sealer = createSealer({ recipients: [zoneIdentity.recipient, recovery.recipient], meta: ZONE });
    const plaintext = patternBytes(CHUNK_SIZE + 5, 11);
    const sealed = Buffer.concat([sealer.header, ...sealer.encryptor.push(plaintext), ...sealer.encryptor.finish()]);
    for (const identity of [zoneIdentity, recovery]) {
      const decrypter = new Decrypter();
      decrypter.addIdentity(identity.toSecretString());
      assert.ok(Buffer.from(await decrypter.decrypt(sealed)).equals(plaintext));
    }
  });

  test(`the default work factor (2^${DEFAULT_SCRYPT_LOG_N}) passphrase copy opens in typage and in core`, async () => {
    const plaintext = patternBytes(5000, 3);
    const sealed = await sealWithCore(plaintext, [zoneIdentity.recipient]);
    const { header, rest } = await readHeader(asyncPieces([sealed]));
    const copy = await rekeyForPassphrase(await unlockHeader(header, [zoneIdentity]));
    assert.match(copy.header.toString('latin1'), new RegExp(`^-> scrypt [A-Za-z0-9+/]{22} ${DEFAULT_SCRYPT_LOG_N}\\n`, 'm'));
    const file = Buffer.concat([copy.header, rest]);
    const decrypter = new Decrypter();
    decrypter.addPassphrase(copy.passphrase);
    assert.ok(Buffer.from(await decrypter.decrypt(file)).equals(plaintext));
    assert.ok((await openWithCore(file, [new PassphraseIdentity(copy.passphrase)])).equals(plaintext));
  });
});
