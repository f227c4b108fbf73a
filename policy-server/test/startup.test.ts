import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config.js';
import { MasterKey } from '../src/crypto/masterKey.js';
import { StartupError } from '../src/errors.js';
import { cli, tempDir } from './helpers/fixture.js';

describe('configuration and master key at start', () => {
  it('fills defaults and lists every bad key in one error', () => {
    assert.equal(parseConfig({}, 'config.json').listenPort, 8443);
    assert.throws(
      () => parseConfig({ listenPort: 'eighty', bodyLimitBytes: 1, log: { level: 'loud' }, surprise: true }, 'config.json'),
      (error: unknown) => {
        assert.ok(error instanceof StartupError);
        assert.equal(error.code, 'CONFIG_INVALID');
        for (const key of ['/listenPort', '/bodyLimitBytes', '/log/level', '/surprise']) assert.ok(error.message.includes(key), `${key} in ${error.message}`);
        return true;
      },
    );
  });

  it('refuses a master key file readable by others, a wrong-size key, and opens secrets only with the same key and label', () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, 'master.key');
      MasterKey.createFile(path);
      assert.throws(() => MasterKey.createFile(path), /EEXIST/);
      const key = MasterKey.load({ envValue: undefined, filePath: path });
      const box = key.seal(Buffer.from('AGE-SECRET-KEY-1...'), 'zone-key:a:1');
      assert.equal(key.open(box, 'zone-key:a:1').toString(), 'AGE-SECRET-KEY-1...');
      assert.throws(() => key.open(box, 'zone-key:b:1'), (e: unknown) => e instanceof StartupError && e.code === 'SECRET_UNREADABLE');
      const other = MasterKey.fromBase64(Buffer.alloc(32, 7).toString('base64'), 'test');
      assert.throws(() => other.open(box, 'zone-key:a:1'), (e: unknown) => e instanceof StartupError && e.code === 'SECRET_UNREADABLE');
      assert.equal(JSON.stringify({ key }), '{"key":"[MasterKey]"}');
      chmodSync(path, 0o644);
      assert.throws(() => MasterKey.load({ envValue: undefined, filePath: path }), (e: unknown) => e instanceof StartupError && e.code === 'MASTER_KEY_PERMISSIONS');
      assert.throws(() => MasterKey.load({ envValue: 'c2hvcnQ=', filePath: path }), (e: unknown) => e instanceof StartupError && e.code === 'MASTER_KEY_INVALID');
      assert.throws(() => MasterKey.load({ envValue: undefined, filePath: join(dir.path, 'none') }), (e: unknown) => e instanceof StartupError && e.code === 'MASTER_KEY_MISSING');
    } finally {
      dir.remove();
    }
  });

  it('the CLI reports usage errors and a bad config with exit code 2, and works with the key from the environment', async () => {
    const dir = tempDir();
    try {
      assert.equal((await cli(['frobnicate', '--data', dir.path])).code, 2);
      assert.equal((await cli(['verify-log', '--data', join(dir.path, 'missing')])).code, 2);
      const envKey = Buffer.alloc(32, 9).toString('base64');
      const init = await cli(['init', '--data', dir.path], { EXITSEAL_MASTER_KEY: envKey });
      assert.equal(init.code, 0, init.err);
      assert.doesNotMatch(init.out, /master\.key/, 'no key file when the key comes from the environment');
      const token = await cli(['enrol-token', '--data', dir.path, '--hours', '2'], { EXITSEAL_MASTER_KEY: envKey });
      assert.equal(token.code, 0, token.err);
      assert.match(token.out, /^[A-Za-z0-9_-]{43}$/);
      const wrongKey = await cli(['verify-log', '--data', dir.path], { EXITSEAL_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') });
      assert.equal(wrongKey.code, 2);
      assert.match(wrongKey.err, /SECRET_UNREADABLE/);
      const backup = await cli(['backup', '--data', dir.path, '--to', join(dir.path, 'copy.db')], { EXITSEAL_MASTER_KEY: envKey });
      assert.equal(backup.code, 0, backup.err);
      writeFileSync(join(dir.path, 'config.json'), JSON.stringify({ listenPort: -1, log: { maxFiles: 0 } }));
      const bad = await cli(['verify-log', '--data', dir.path], { EXITSEAL_MASTER_KEY: envKey });
      assert.equal(bad.code, 2);
      assert.match(bad.err, /\/listenPort/);
      assert.match(bad.err, /\/log\/maxFiles/);
    } finally {
      dir.remove();
    }
  });
});
