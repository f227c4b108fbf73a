import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { X25519Identity } from '@exitseal/core';
import { signBundle, SigningKey, strictestPolicy, type BundlePayload, type SignedBundle } from '@exitseal/core/policy';
import { BundleCache } from '../src/policy/bundle-cache.js';
import { PolicySync } from '../src/policy/policy-sync.js';
import { ServerPolicySource } from '../src/policy/server-policy-source.js';
import type { BundleAnswer } from '../src/server/policy-server-api.js';
import { inTempDir, MemoryLogger } from './helpers.js';

const serverKey = SigningKey.generate();
const lgwan = X25519Identity.generate();

function bundle(revision: number, removableMedia: 'seal' | 'allow'): BundlePayload {
  return {
    formatVersion: 1,
    revision,
    issuedAt: new Date().toISOString(),
    agentId: 'agent-1',
    homeZoneId: 'lgwan',
    zones: [{ id: 'lgwan', name: 'LGWAN', priority: 1, fallback: true, detection: { cidrs: [], dnsSuffixes: [], gateways: [] } }],
    policies: [{ zoneId: 'lgwan', policy: { ...strictestPolicy(), channels: { removableMedia, outboundFolders: 'seal', mail: 'block' }, offline: { maxHours: 72, after: 'seal-everything' } } }],
    sealTo: { zoneId: 'lgwan', keyVersion: 1, recipient: lgwan.recipient.toString() },
    identities: [{ zoneId: 'lgwan', keyVersion: 1, secret: lgwan.toSecretString() }],
  };
}

/** The agent side of policy sync wired as main.ts wires it; `answers` is what the server's /agent/v1/bundle returns, in turn. */
function agentSide(dir: string, answers: BundleAnswer[]) {
  const logger = new MemoryLogger();
  const source = new ServerPolicySource([], logger);
  source.networkChanged({ addresses: ['127.0.0.1'], dnsSuffixes: [], gateways: [] });
  const cache = new BundleCache(join(dir, 'policy', 'bundle.json'));
  const sync = new PolicySync({
    api: { bundle: () => Promise.resolve(answers.shift() ?? { changed: false }) },
    verifyKey: serverKey.publicKey,
    cache,
    receivers: [source],
    contactChanged: (contact) => source.contactChanged(contact),
    logger,
    pollMs: 60_000,
    retryMaxMs: 60_000,
  });
  return { logger, source, sync, cachePath: join(dir, 'policy', 'bundle.json') };
}

describe('policy bundles that do not verify', () => {
  test('a tampered bundle or one signed by another key from the server is refused: the last good policy and its cache stay', async () => {
    await inTempDir(async (dir) => {
      const good = signBundle(bundle(1, 'seal'), serverKey);
      const tampered: SignedBundle = { ...good, payload: good.payload.replace('"removableMedia":"seal"', '"removableMedia":"allow"') };
      assert.notEqual(tampered.payload, good.payload, 'the tampering changed the payload');
      const foreign = signBundle(bundle(2, 'allow'), SigningKey.generate());
      const agent = agentSide(dir, [
        { changed: true, etag: '"r1"', signedBundle: good },
        { changed: true, etag: '"r2"', signedBundle: tampered },
        { changed: true, etag: '"r3"', signedBundle: foreign },
      ]);
      assert.equal(await agent.sync.pollOnce(), 'changed');
      assert.equal(agent.source.current().channels.removableMedia, 'seal');
      const cachedGood = await readFile(agent.cachePath, 'utf8');

      assert.equal(await agent.sync.pollOnce(), 'failed');
      assert.equal(await agent.sync.pollOnce(), 'failed');
      assert.equal(agent.source.current().channels.removableMedia, 'seal', 'still the verified policy');
      assert.equal(agent.source.current().version, 'r1');
      assert.equal(await readFile(agent.cachePath, 'utf8'), cachedGood, 'the cache still holds the good bundle');
      assert.equal(agent.logger.lines.filter((line) => line.message === 'the server sent a policy that does not verify: kept the previous one').length, 2);
      assert.equal(agent.sync.status().online, false, 'a bundle that does not verify does not count as contact');
    });
  });

  test('a cached bundle edited on disk is refused at start (no policy from it), and the server bundle then replaces it', async () => {
    await inTempDir(async (dir) => {
      const good = signBundle(bundle(1, 'seal'), serverKey);
      const first = agentSide(dir, [{ changed: true, etag: '"r1"', signedBundle: good }]);
      assert.equal(await first.sync.pollOnce(), 'changed');

      // Someone with disk access loosens the cached policy.
      const onDisk = JSON.parse(await readFile(first.cachePath, 'utf8')) as { signedBundle: SignedBundle };
      onDisk.signedBundle.payload = onDisk.signedBundle.payload.replace('"removableMedia":"seal"', '"removableMedia":"allow"');
      await writeFile(first.cachePath, JSON.stringify(onDisk));

      const restarted = agentSide(dir, [{ changed: true, etag: '"r1"', signedBundle: good }]);
      assert.equal(await restarted.sync.loadCached(), false);
      assert.equal(restarted.source.hasPolicy(), false, 'nothing from the edited cache is used');
      assert.ok(restarted.logger.lines.some((line) => line.level === 'error' && line.message === 'the cached policy does not verify: ignored'));
      assert.equal(await restarted.sync.pollOnce(), 'changed');
      assert.equal(restarted.source.current().channels.removableMedia, 'seal');
      const third = agentSide(dir, []);
      assert.equal(await third.sync.loadCached(), true, 'the cache was rewritten with the verified bundle');
    });
  });
});
