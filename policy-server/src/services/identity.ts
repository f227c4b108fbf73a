import { X509Certificate } from 'node:crypto';
import { SigningKey } from '@exitseal/core/policy';
import type { MasterKey } from '../crypto/masterKey.js';
import { StartupError } from '../errors.js';
import { createCertificateAuthority, issueServerCertificate, type KeyAndCertificate } from '../pki/forge.js';
import type { Store } from '../storage/store.js';
import type { Clock } from './clock.js';

/** The server's own keys: its CA (issues agent certificates), its TLS certificate, its bundle signing key. */
export interface ServerIdentity {
  readonly ca: KeyAndCertificate;
  readonly tls: KeyAndCertificate;
  readonly signingKey: SigningKey;
}

/**
 * The SHA-256 fingerprint of a certificate (of its DER form), 64 lowercase hex digits: what an agent pins the
 * server CA by (`exitseal-agent enrol --ca-fingerprint`), so it can be read out over the phone or pasted.
 */
export function certificateFingerprint(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256.replace(/:/g, '').toLowerCase();
}

const LABEL_CA_KEY = 'ca-key';
const LABEL_TLS_KEY = 'tls-key';
const LABEL_SIGNING_KEY = 'signing-key';

async function readSecret(store: Store, masterKey: MasterKey, label: string): Promise<Buffer | null> {
  const stored = await store.settings.get(label);
  return stored === null ? null : masterKey.open(Buffer.from(stored, 'base64'), label);
}

async function writeSecret(store: Store, masterKey: MasterKey, label: string, secret: Uint8Array): Promise<void> {
  await store.settings.put(label, masterKey.seal(secret, label).toString('base64'));
}

/**
 * Loads the server identity, creating what is missing (the CA on first start) and re-issuing the TLS
 * certificate when the configured host names changed. Private keys are stored encrypted under the master key.
 */
export async function loadOrCreateIdentity(store: Store, masterKey: MasterKey, hostnames: readonly string[], clock: Clock): Promise<ServerIdentity> {
  let caKey = await readSecret(store, masterKey, LABEL_CA_KEY);
  let caCert = await store.settings.get('ca-certificate');
  if (caKey === null || caCert === null) {
    if ((await store.agents.list()).length > 0) throw new StartupError('CA_MISSING', 'the CA is missing but agents are enrolled: restore the database from a backup');
    const ca = createCertificateAuthority('ExitSeal policy server CA', clock.now());
    await writeSecret(store, masterKey, LABEL_CA_KEY, Buffer.from(ca.keyPem));
    await store.settings.put('ca-certificate', ca.certificatePem);
    caKey = Buffer.from(ca.keyPem);
    caCert = ca.certificatePem;
  }
  const ca: KeyAndCertificate = { keyPem: caKey.toString(), certificatePem: caCert };

  const wantedNames = JSON.stringify([...hostnames].sort());
  let tlsKey = await readSecret(store, masterKey, LABEL_TLS_KEY);
  let tlsCert = await store.settings.get('tls-certificate');
  if (tlsKey === null || tlsCert === null || (await store.settings.get('tls-hostnames')) !== wantedNames) {
    const tls = issueServerCertificate(ca, hostnames, clock.now());
    await writeSecret(store, masterKey, LABEL_TLS_KEY, Buffer.from(tls.keyPem));
    await store.settings.put('tls-certificate', tls.certificatePem);
    await store.settings.put('tls-hostnames', wantedNames);
    tlsKey = Buffer.from(tls.keyPem);
    tlsCert = tls.certificatePem;
  }

  let signingSeed = await readSecret(store, masterKey, LABEL_SIGNING_KEY);
  if (signingSeed === null) {
    signingSeed = SigningKey.generate().toRaw();
    await writeSecret(store, masterKey, LABEL_SIGNING_KEY, signingSeed);
  }
  return { ca, tls: { keyPem: tlsKey.toString(), certificatePem: tlsCert }, signingKey: SigningKey.fromRaw(signingSeed) };
}
