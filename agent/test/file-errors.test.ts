import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FileOperationError, toFileOperationError } from '../src/files/errors.js';

function systemError(code: string): Error {
  return Object.assign(new Error(`${code}: from the kernel`), { code });
}

test('every way a pulled stick fails a file operation is MEDIA_GONE, so its job waits for the stick', () => {
  for (const code of ['EIO', 'ENODEV', 'ENXIO', 'ESTALE', 'ENOTCONN', 'ECONNABORTED']) {
    const cause = systemError(code);
    const mapped = toFileOperationError(cause, '/media/stick/a.txt');
    assert.ok(mapped instanceof FileOperationError, code);
    assert.equal(mapped.code, 'MEDIA_GONE', code);
    assert.equal(mapped.cause, cause, `${code} is kept as the cause`);
  }
});

test('an error that is no file-system condition is passed on untouched', () => {
  const error = systemError('EWHATEVER');
  assert.equal(toFileOperationError(error, '/x'), error);
});

test('a full volume and a file too large for its file system (FAT32: 4 GiB) are both NO_SPACE, each saying which', () => {
  const full = toFileOperationError(systemError('ENOSPC'), '/media/stick/a.bin');
  const tooLarge = toFileOperationError(systemError('EFBIG'), '/media/stick/a.bin');
  assert.ok(full instanceof FileOperationError && tooLarge instanceof FileOperationError);
  assert.equal(full.code, 'NO_SPACE');
  assert.equal(tooLarge.code, 'NO_SPACE');
  assert.match(full.message, /no space left/);
  assert.match(tooLarge.message, /cannot hold a file this large/);
});
