import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadAgentConfig, validateAgentConfig } from '../src/config/agent-config.js';
import { decideDevice, LocalPolicySource } from '../src/policy/agent-policy.js';
import { baseConfig, inTempDir, makeZone } from './helpers.js';

describe('agent configuration', () => {
  test('a minimal file gets its defaults and parsed keys; the local policy becomes the in-memory policy', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const configPath = join(dir, 'agent.json');
      const { inboundFolders: _omit, ...withoutInbound } = baseConfig(join(dir, 'data'), zone);
      await writeFile(configPath, JSON.stringify(withoutInbound));
      const config = loadAgentConfig(configPath, { homes: ['/home/hanako'] });
      assert.equal(config.media.pollIntervalMs, 250);
      assert.equal(config.logging.level, 'info');
      assert.deepEqual(config.inboundFolders, ['/home/hanako/Desktop', '/home/hanako/Documents', '/home/hanako/Downloads']);
      const policy = new LocalPolicySource(config.localPolicy!).current();
      assert.equal(policy.source, 'local');
      assert.equal(policy.zoneId, 'lgwan');
      assert.equal(policy.sealRecipients[0]?.toString(), zone.identity.recipient.toString());
      assert.equal(policy.openable.get('lgwan')?.length, 1);
    });
  });

  test('every bad key is listed in one error, and a secret key is never echoed', async () => {
    await inTempDir(async (dir) => {
      const zone = await makeZone(dir, 'lgwan');
      const secret = zone.identity.toSecretString();
      const badKeyFile = join(dir, 'bad.key');
      await writeFile(badKeyFile, `${secret.slice(0, -3)}XYZ\n`);
      const config = baseConfig('relative/data', zone, { unknownKey: 1, media: { pollIntervalMs: 1 } }) as { localPolicy: Record<string, unknown> };
      config.localPolicy.sealTo = ['age1notakey'];
      config.localPolicy.openable = [
        { zoneId: 'lgwan', identityFile: badKeyFile },
        { zoneId: 'mynumber', identityFile: join(dir, 'missing.key') },
      ];
      // The schema pass reports every structural problem first...
      let error: ConfigError | undefined;
      try {
        validateAgentConfig(config);
      } catch (caught) {
        error = caught as ConfigError;
      }
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.equal(error.kind, 'client');
      assert.ok(error.issues.some((issue) => issue.includes('unknownKey')), error.message);
      assert.ok(error.issues.some((issue) => issue.startsWith('/media/pollIntervalMs')), error.message);

      // ...and once the structure is right, every semantic problem together.
      const fixed = baseConfig('relative/data', zone) as { localPolicy: Record<string, unknown> };
      fixed.localPolicy.sealTo = ['age1notakey'];
      fixed.localPolicy.openable = config.localPolicy.openable;
      try {
        validateAgentConfig(fixed);
        assert.fail('expected a ConfigError');
      } catch (caught) {
        assert.ok(caught instanceof ConfigError);
        const text = caught.issues.join('\n');
        assert.match(text, /\/dataDir: must be an absolute path/);
        assert.match(text, /\/localPolicy\/sealTo\/0: not an age X25519 recipient/);
        assert.match(text, /\/localPolicy\/openable\/0\/identityFile: .* not an age X25519 identity/);
        assert.match(text, /\/localPolicy\/openable\/1\/identityFile: cannot read .*missing\.key \(ENOENT\)/);
        assert.equal(caught.issues.length, 4, text);
        assert.ok(!caught.message.includes(secret.slice(20, 40)), 'the secret key leaked into the message');
      }
    });
  });

  test('unreadable or non-JSON files are reported as configuration errors', async () => {
    await inTempDir(async (dir) => {
      assert.throws(() => loadAgentConfig(join(dir, 'nope.json')), (error: unknown) => error instanceof ConfigError && /cannot read the file/.test(error.message));
      const garbage = join(dir, 'garbage.json');
      await writeFile(garbage, '{ "dataDir": ');
      assert.throws(() => loadAgentConfig(garbage), (error: unknown) => error instanceof ConfigError && /not valid JSON/.test(error.message));
    });
  });
});

describe('device allow/deny lists', () => {
  const rule = (vendorId: string, productId?: string, serial?: string) => ({ vendorId, productId, serial });

  test('no lists: every device is allowed', () => {
    assert.deepEqual(decideDevice({ devices: { allow: [], deny: [] } }, { vendorId: '0781' }), { allowed: true });
  });

  test('deny wins over allow, matching vendor, product and serial as far as the rule goes', () => {
    const devices = { allow: [rule('0781')], deny: [rule('0781', '5581', 'BAD1')] };
    assert.equal(decideDevice({ devices }, { vendorId: '0781', productId: '5581', serial: 'GOOD' }).allowed, true);
    const denied = decideDevice({ devices }, { vendorId: '0781', productId: '5581', serial: 'BAD1' });
    assert.deepEqual(denied, { allowed: false, reason: 'device is on the deny list' });
  });

  test('an allow list refuses everything else, including devices without a USB identity', () => {
    const devices = { allow: [rule('0781', '5581')], deny: [] };
    assert.equal(decideDevice({ devices }, { vendorId: '0781', productId: '5581', serial: 'X' }).allowed, true);
    assert.equal(decideDevice({ devices }, { vendorId: '0781', productId: '5583' }).allowed, false);
    assert.equal(decideDevice({ devices }, {}).allowed, false);
  });
});
