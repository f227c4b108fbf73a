import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/**
 * The only agent file that imports node-forge: the certificate signing request sent at enrolment. The RSA
 * key comes from Node's native generator (forge's pure-JS one takes seconds on a slow PC); forge only
 * builds and signs the PKCS#10 request, which Node cannot do.
 */
export interface CertificateRequest {
  /** The agent's private key (PKCS#8 PEM). It never leaves the PC. */
  readonly keyPem: string;
  readonly csrPem: string;
}

export function createCertificateRequest(commonName: string): CertificateRequest {
  const keyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject([{ name: 'commonName', value: commonName.slice(0, 64) || 'exitseal-agent' }]);
  csr.sign(key, forge.md.sha256.create());
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}
