import { createPublicKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ExitSealError } from '@exitseal/core';
import { VerifyKey } from '@exitseal/core/policy';
import { fetchPinnedCertificateAuthority, HttpsTransport, ServerNotTrustedError } from './https-transport.js';
import { PolicyServerApi } from './policy-server-api.js';

/**
 * What enrolment leaves in the agent's data directory (folder "enrolment", mode 0700): the identity file
 * (agent id, zone, server URL, the pinned CA, the client certificate, the bundle signing key) and the client
 * private key, both mode 0600. From then on every call to the server uses mutual TLS with them.
 */
const EnrolmentFileSchema = Type.Object(
  {
    agentId: Type.String({ minLength: 1, maxLength: 64 }),
    zoneId: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
    serverUrl: Type.String({ pattern: '^https://' }),
    caCertificatePem: Type.String({ minLength: 100 }),
    certificatePem: Type.String({ minLength: 100 }),
    bundleSigningKey: Type.String({ minLength: 40, maxLength: 64 }),
    enrolledAt: Type.String(),
  },
  { additionalProperties: false },
);
export type EnrolmentFile = Static<typeof EnrolmentFileSchema>;

export interface Enrolment extends EnrolmentFile {
  readonly clientKeyPem: string;
  readonly verifyKey: VerifyKey;
}

export class EnrolmentError extends ExitSealError {
  constructor(code: string, message: string, options: { cause?: unknown; kind?: 'client' | 'fault' } = {}) {
    super(code, message, { kind: options.kind ?? 'client', cause: options.cause });
    this.name = 'EnrolmentError';
  }
}

export function enrolmentDir(dataDir: string): string {
  return join(dataDir, 'enrolment');
}

const IDENTITY_FILE = 'identity.json';
const KEY_FILE = 'client-key.pem';

async function writePrivateFile(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** The enrolment, or undefined if this agent was never enrolled. A damaged enrolment is an error, not "absent". */
export async function loadEnrolment(dataDir: string): Promise<Enrolment | undefined> {
  const dir = enrolmentDir(dataDir);
  let text: string;
  try {
    text = await readFile(join(dir, IDENTITY_FILE), 'utf8');
  } catch (error) {
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return undefined;
    throw new EnrolmentError('ENROLMENT_UNREADABLE', `cannot read ${join(dir, IDENTITY_FILE)}`, { cause: error, kind: 'fault' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EnrolmentError('ENROLMENT_DAMAGED', `${join(dir, IDENTITY_FILE)} is not JSON: enrol again`, { cause: error });
  }
  if (!Value.Check(EnrolmentFileSchema, parsed)) throw new EnrolmentError('ENROLMENT_DAMAGED', `${join(dir, IDENTITY_FILE)} is malformed: enrol again`);
  const keyPath = join(dir, KEY_FILE);
  const keyStats = await stat(keyPath).catch((error: unknown) => {
    throw new EnrolmentError('ENROLMENT_DAMAGED', `the client key ${keyPath} is missing: enrol again`, { cause: error });
  });
  if ((keyStats.mode & 0o077) !== 0) throw new EnrolmentError('ENROLMENT_KEY_EXPOSED', `${keyPath} is readable by others (mode ${(keyStats.mode & 0o777).toString(8)}): chmod 600 it`);
  const clientKeyPem = await readFile(keyPath, 'utf8');
  return { ...parsed, clientKeyPem, verifyKey: VerifyKey.fromBase64(parsed.bundleSigningKey) };
}

export interface EnrolOptions {
  readonly dataDir: string;
  readonly serverUrl: string;
  readonly token: string;
  /** Exactly one: the CA certificate (PEM) to trust, or its SHA-256 fingerprint to find in the server's chain. */
  readonly caPem?: string;
  readonly caFingerprint?: string;
  readonly hostname: string;
  readonly osName: string;
  readonly agentVersion: string;
}

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/**
 * Enrols with a one-time token: makes a key pair and CSR, sends the CSR over TLS verified against the CA
 * the administrator vouched for (file or fingerprint), checks that the certificate returned is for our key
 * and that the server's CA is the one we trusted, and stores the result.
 */
export async function enrolAgent(options: EnrolOptions): Promise<Enrolment> {
  if (!/^https:\/\/[^/]+/.test(options.serverUrl)) throw new EnrolmentError('SERVER_URL_INVALID', `--server must be an https:// URL (got ${JSON.stringify(options.serverUrl)})`);
  if (await loadEnrolment(options.dataDir).catch(() => undefined)) {
    throw new EnrolmentError('ALREADY_ENROLLED', `this agent is already enrolled (${enrolmentDir(options.dataDir)}); remove that folder to enrol again`);
  }
  let caPem: string;
  if (options.caPem !== undefined) caPem = options.caPem;
  else if (options.caFingerprint !== undefined) caPem = await fetchPinnedCertificateAuthority(options.serverUrl, options.caFingerprint);
  else throw new EnrolmentError('CA_REQUIRED', 'give the server CA: --ca-file FILE or --ca-fingerprint SHA256');
  // node-forge is loaded only here: it adds ~11 MiB to a process that otherwise never needs it (measured),
  // and the running service is meant for low-spec PCs.
  const { createCertificateRequest } = await import('./certificate-request.js');
  const request = createCertificateRequest(options.hostname);
  const api = new PolicyServerApi(new HttpsTransport({ baseUrl: options.serverUrl, caPem }));
  let response;
  try {
    response = await api.enrol({ token: options.token, csrPem: request.csrPem, hostname: options.hostname.slice(0, 255), osName: options.osName.slice(0, 128), agentVersion: options.agentVersion });
  } finally {
    api.close();
  }
  if (fingerprint(response.caCertificatePem) !== fingerprint(caPem)) {
    throw new ServerNotTrustedError('the server says its CA is not the one this agent was told to trust; enrolment discarded');
  }
  const certificate = new X509Certificate(response.certificatePem);
  const ours = createPublicKey(request.keyPem).export({ format: 'der', type: 'spki' });
  if (!certificate.publicKey.export({ format: 'der', type: 'spki' }).equals(ours) || !certificate.checkIssued(new X509Certificate(caPem))) {
    throw new ServerNotTrustedError('the certificate returned is not for this agent\'s key or not issued by the server CA; enrolment discarded');
  }
  const verifyKey = VerifyKey.fromBase64(response.bundleSigningKey);
  const file: EnrolmentFile = {
    agentId: response.agentId,
    zoneId: response.zoneId,
    serverUrl: options.serverUrl.replace(/\/+$/, ''),
    caCertificatePem: response.caCertificatePem,
    certificatePem: response.certificatePem,
    bundleSigningKey: response.bundleSigningKey,
    enrolledAt: new Date().toISOString(),
  };
  const dir = enrolmentDir(options.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await writePrivateFile(join(dir, KEY_FILE), request.keyPem);
  await writePrivateFile(join(dir, IDENTITY_FILE), `${JSON.stringify(file, null, 2)}\n`);
  return { ...file, clientKeyPem: request.keyPem, verifyKey };
}

/** The mutual-TLS API client of an enrolled agent. */
export function apiFor(enrolment: Enrolment, timeoutMs?: number): PolicyServerApi {
  return new PolicyServerApi(
    new HttpsTransport({ baseUrl: enrolment.serverUrl, caPem: enrolment.caCertificatePem, clientCertificatePem: enrolment.certificatePem, clientKeyPem: enrolment.clientKeyPem, timeoutMs }),
  );
}
