// `exitseal-server ca`: the CA an agent pins when it enrols. The fingerprint printed must be the one of the CA
// the running server presents in its TLS chain, and the one the console puts in the install command.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { cli, ServerFixture, tempDir } from './helpers/fixture.js';

/** The issuer of the certificate the server presents, read off a real TLS handshake (nothing trusted). */
function presentedIssuerFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const leaf = socket.getPeerCertificate(true);
      const issuer: PeerCertificate = leaf.issuerCertificate;
      socket.end();
      resolve(issuer.fingerprint256.replace(/:/g, '').toLowerCase());
    });
    socket.on('error', reject);
  });
}

describe('exitseal-server ca', () => {
  let dir: ReturnType<typeof tempDir>;
  let fixture: ServerFixture;

  before(async () => {
    dir = tempDir();
    fixture = await ServerFixture.create(dir.path);
  });

  after(async () => {
    await fixture.stop();
    dir.remove();
  });

  it('prints the CA certificate and the SHA-256 fingerprint of exactly that certificate', async () => {
    const printed = await cli(['ca', '--data', dir.path]);
    assert.equal(printed.code, 0, printed.err);
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(printed.out)?.[0];
    assert.ok(pem !== undefined, printed.out);
    const certificate = new X509Certificate(pem);
    assert.ok(certificate.ca, 'it is a CA certificate');
    const expected = certificate.fingerprint256.replace(/:/g, '').toLowerCase();
    assert.match(printed.out, new RegExp(`^SHA-256 fingerprint: ${expected}$`, 'm'));
    assert.equal(pem.trim(), fixture.ca.trim());

    const only = await cli(['ca', '--data', dir.path, '--fingerprint']);
    assert.equal(only.code, 0, only.err);
    assert.equal(only.out, expected);
  });

  it('matches the CA the server presents and the fingerprint given with an enrolment token', async () => {
    const fingerprint = (await cli(['ca', '--data', dir.path, '--fingerprint'])).out;
    assert.match(fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(await presentedIssuerFingerprint(fixture.server.url), fingerprint);
    const admin = await fixture.person('admin1', 'admin');
    const created = await admin.expect<{ token: string; caFingerprint: string }>(201, '/api/v1/enrolment-tokens', { body: { validHours: 1 } });
    assert.equal(created.caFingerprint, fingerprint);
  });

  it('refuses a data directory that does not exist, as every command does', async () => {
    const missing = await cli(['ca', '--data', `${dir.path}/missing`]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /does not exist/);
  });
});
