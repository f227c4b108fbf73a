// The only file that imports node-forge: the server's CA, its TLS certificate, and signing agents' CSRs.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { badRequest } from '../errors.js';

export interface KeyAndCertificate {
  readonly keyPem: string;
  readonly certificatePem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** RSA keys come from Node's native generator (forge's pure-JS one takes seconds); forge only signs. */
function newRsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function serialNumber(): string {
  // Positive 128-bit serial: clear the top bit so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function privateKeyFromPem(pem: string): forge.pki.rsa.PrivateKey {
  return forge.pki.privateKeyFromPem(pem);
}

export function createCertificateAuthority(commonName: string, now: Date): KeyAndCertificate {
  const keyPem = newRsaKeyPem();
  const key = privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - DAY_MS);
  cert.validity.notAfter = new Date(now.getTime() + 20 * 365 * DAY_MS);
  const subject = [{ name: 'commonName', value: commonName }, { name: 'organizationName', value: 'ExitSeal' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { keyPem, certificatePem: forge.pki.certificateToPem(cert) };
}

function issue(
  ca: KeyAndCertificate,
  publicKey: forge.pki.PublicKey,
  commonName: string,
  extensions: object[],
  days: number,
  now: Date,
): { certificatePem: string; serial: string } {
  const caCert = forge.pki.certificateFromPem(ca.certificatePem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([{ name: 'basicConstraints', cA: false, critical: true }, ...extensions]);
  cert.sign(privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(cert), serial: cert.serialNumber };
}

/** The HTTPS server's own certificate, for the host names and IP addresses agents and browsers use. */
export function issueServerCertificate(ca: KeyAndCertificate, hostnames: readonly string[], now: Date): KeyAndCertificate {
  const keyPem = newRsaKeyPem();
  const key = privateKeyFromPem(keyPem);
  const altNames = hostnames.map((h) => (/^[0-9.]+$/.test(h) || h.includes(':') ? { type: 7, ip: h } : { type: 2, value: h }));
  const { certificatePem } = issue(
    ca,
    forge.pki.setRsaPublicKey(key.n, key.e),
    hostnames[0] ?? 'exitseal-server',
    [{ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true }, { name: 'extKeyUsage', serverAuth: true }, { name: 'subjectAltName', altNames }],
    825,
    now,
  );
  return { keyPem, certificatePem };
}

export interface IssuedClientCertificate {
  readonly certificatePem: string;
  readonly serial: string;
  /** SHA-256 of the certificate DER, lower-case hex without colons: how a TLS peer is matched to an agent. */
  readonly fingerprint: string;
}

/**
 * Checks an agent's CSR (parseable, self-signature valid, RSA of at least 2048 bits) and issues a client
 * certificate whose subject is the agent id, whatever the CSR asked for.
 */
export function signAgentCsr(ca: KeyAndCertificate, csrPem: string, agentId: string, days: number, now: Date): IssuedClientCertificate {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (cause) {
    throw badRequest('CSR_INVALID', 'csrPem is not a PEM certificate signing request (RSA)', cause);
  }
  if (!csr.verify()) throw badRequest('CSR_INVALID', 'the CSR signature does not verify');
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (publicKey?.n === undefined || publicKey.n.bitLength() < 2048) throw badRequest('CSR_INVALID', 'the CSR key must be RSA of at least 2048 bits');
  const issued = issue(
    ca,
    publicKey,
    agentId,
    [{ name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true }, { name: 'extKeyUsage', clientAuth: true }],
    days,
    now,
  );
  return { ...issued, fingerprint: certificateFingerprint(issued.certificatePem) };
}

export function certificateFingerprint(certificatePem: string): string {
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certificatePem))).getBytes();
  return createHash('sha256').update(Buffer.from(der, 'binary')).digest('hex');
}

/**
 * What an agent does to enrol: a fresh RSA key (Node's native generator) and a PKCS#10 CSR signed with it
 * by node-forge. The agent keeps `keyPem` private and sends `csrPem`. Exported for tests and as the
 * reference for the agent's own forge wrapper.
 */
export function createAgentCsr(hostname: string): { keyPem: string; csrPem: string } {
  const keyPem = newRsaKeyPem();
  const key = privateKeyFromPem(keyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject([{ name: 'commonName', value: hostname }]);
  csr.sign(key, forge.md.sha256.create());
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}
