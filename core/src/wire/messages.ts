import { Type, type Static } from '@sinclair/typebox';
import { ZoneIdSchema } from '../policy/model.js';

/** Every error the server returns has this body; `code` is stable, `message` says what is wrong. */
export const ErrorBodySchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  problems: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
});
export type ErrorBody = Static<typeof ErrorBodySchema>;

const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
const Base64 = (maxLength: number) => Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$', maxLength });

export const EnrolRequestSchema = Type.Object(
  {
    token: Type.String({ minLength: 16, maxLength: 128, description: 'the one-time enrolment token an administrator created' }),
    csrPem: Type.String({ minLength: 100, maxLength: 16384, description: 'PKCS#10 certificate signing request, PEM' }),
    hostname: Type.String({ minLength: 1, maxLength: 255 }),
    osName: Type.String({ minLength: 1, maxLength: 128 }),
    agentVersion: Type.String({ minLength: 1, maxLength: 64 }),
    zoneId: Type.Optional(ZoneIdSchema),
  },
  { additionalProperties: false },
);
export type EnrolRequest = Static<typeof EnrolRequestSchema>;

export const EnrolResponseSchema = Type.Object({
  agentId: Type.String(),
  zoneId: ZoneIdSchema,
  certificatePem: Type.String({ description: 'the agent client certificate for mutual TLS' }),
  caCertificatePem: Type.String({ description: 'the server CA: trust it for the server and pin it' }),
  bundleSigningKey: Type.String({ description: 'Ed25519 public key (base64 of 32 bytes) that signs bundles and release tokens' }),
});
export type EnrolResponse = Static<typeof EnrolResponseSchema>;

export const DECRYPT_PURPOSES = ['this-pc', 'outside-recipient'] as const;

export const DecryptRequestCreateSchema = Type.Object(
  {
    header: Base64(96 * 1024),
    fileName: Type.String({ minLength: 1, maxLength: 1024 }),
    reason: Type.String({ minLength: 1, maxLength: 2048 }),
    purpose: Type.Union(DECRYPT_PURPOSES.map((p) => Type.Literal(p))),
    osUser: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false, description: 'header: the sealed file\'s age header, base64 (the payload never leaves the PC)' },
);
export type DecryptRequestCreate = Static<typeof DecryptRequestCreateSchema>;

export const ReleaseRequestCreateSchema = Type.Object(
  {
    fileName: Type.String({ minLength: 1, maxLength: 1024 }),
    size: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    sha256: Sha256Hex,
    reason: Type.String({ minLength: 1, maxLength: 2048 }),
    destination: Type.String({ minLength: 1, maxLength: 1024 }),
    osUser: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export type ReleaseRequestCreate = Static<typeof ReleaseRequestCreateSchema>;

export const REQUEST_STATUSES = ['pending', 'approved', 'denied'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const RequestCreatedSchema = Type.Object({ id: Type.String(), status: Type.Union(REQUEST_STATUSES.map((s) => Type.Literal(s))) });

/** What the requester's agent receives once a request is decided. */
export const RequestOutcomeSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('decrypt'), Type.Literal('release')]),
  status: Type.Union(REQUEST_STATUSES.map((s) => Type.Literal(s))),
  decisionReason: Type.Optional(Type.String()),
  fileKey: Type.Optional(Type.String({ description: 'decrypt for this PC: the 16-byte file key, base64; opens only this file' })),
  fileId: Type.Optional(Type.String()),
  recipientHeader: Type.Optional(Type.String({ description: 'decrypt for an outside recipient: new age header (one scrypt stanza), base64' })),
  passphrase: Type.Optional(Type.String({ description: 'the passphrase that opens recipientHeader; hand it to the recipient separately' })),
  releaseToken: Type.Optional(Type.String({ description: 'release: signed token bound to the file SHA-256, the requester and an expiry' })),
  releaseExpiresAt: Type.Optional(Type.String()),
});
export type RequestOutcome = Static<typeof RequestOutcomeSchema>;
