import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createSealer, openStream, parseHeader, PassphraseIdentity, rekeyForPassphrase, unlockHeader, X25519Identity } from '@exitseal/core';
import { FileOperationError } from '../src/files/errors.js';
import { writeRecipientCopyFromHeader } from '../src/files/sealed-file-io.js';
import { inTempDir } from './helpers.js';

const zone = X25519Identity.generate();

function seal(text: string): Buffer {
  const sealer = createSealer({ recipients: [zone.recipient], meta: { zoneId: 'mynumber', keyVersion: 1 } });
  return Buffer.concat([sealer.header, ...sealer.encryptor.push(Buffer.from(text)), ...sealer.encryptor.finish()]);
}

/** What the policy server does on approval: the file's key re-wrapped for a passphrase (low work factor for speed). */
async function serverHeaderFor(sealed: Buffer): Promise<{ header: Buffer; passphrase: string }> {
  const header = parseHeader(sealed);
  const copy = await rekeyForPassphrase(await unlockHeader(header, [zone]), { logN: 10 });
  return { header: copy.header, passphrase: copy.passphrase };
}

async function opened(path: string, passphrase: string): Promise<string> {
  const result = await openStream([await readFile(path)], [new PassphraseIdentity(passphrase)]);
  const pieces: Buffer[] = [];
  for await (const piece of result.plaintext) pieces.push(piece);
  return Buffer.concat(pieces).toString();
}

describe('outside-recipient copy from the server header', () => {
  test('the copy is the new header plus the unchanged payload, opens with the passphrase, and the original stays', async () => {
    await inTempDir(async (dir) => {
      const sealed = seal('for the partner');
      await writeFile(join(dir, 'a.docx'), sealed);
      const { header, passphrase } = await serverHeaderFor(sealed);
      const inspection = await writeRecipientCopyFromHeader(join(dir, 'a.docx'), { outputPath: join(dir, 'a.docx.age') }, header, passphrase);
      assert.equal(inspection.meta?.zoneId, 'mynumber');
      assert.equal(await opened(join(dir, 'a.docx.age'), passphrase), 'for the partner');
      assert.deepEqual(await readFile(join(dir, 'a.docx')), sealed);
      await assert.rejects(writeRecipientCopyFromHeader(join(dir, 'a.docx'), { outputPath: join(dir, 'a.docx.age') }, header, passphrase), { code: 'TARGET_EXISTS' });
    });
  });

  test('a header for another file, a wrong passphrase or a header that is not one scrypt stanza writes nothing', async () => {
    await inTempDir(async (dir) => {
      await writeFile(join(dir, 'a.docx'), seal('first file'));
      const other = await serverHeaderFor(seal('another file'));
      await assert.rejects(writeRecipientCopyFromHeader(join(dir, 'a.docx'), { outputPath: join(dir, 'x.age') }, other.header, other.passphrase), (error: Error & { code?: string }) => error.code === 'PAYLOAD_INVALID' || error.code === 'PAYLOAD_TRUNCATED' || error instanceof FileOperationError);
      const own = await serverHeaderFor(await readFile(join(dir, 'a.docx')));
      await assert.rejects(writeRecipientCopyFromHeader(join(dir, 'a.docx'), { outputPath: join(dir, 'y.age') }, own.header, 'not the passphrase'));
      const x25519Header = parseHeader(await readFile(join(dir, 'a.docx')));
      const asBytes = (await readFile(join(dir, 'a.docx'))).subarray(0, x25519Header.length);
      await assert.rejects(writeRecipientCopyFromHeader(join(dir, 'a.docx'), { outputPath: join(dir, 'z.age') }, asBytes, own.passphrase), { code: 'RECIPIENT_HEADER_INVALID' });
      await assert.rejects(writeRecipientCopyFromHeader(join(dir, 'a.docx'), { outputPath: join(dir, 'z.age') }, Buffer.from('garbage'), own.passphrase), { code: 'RECIPIENT_HEADER_INVALID' });
      assert.deepEqual((await readdir(dir)).sort(), ['a.docx'], 'no copy and no temp file left behind');
    });
  });
});
