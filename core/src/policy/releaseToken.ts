import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { canonicalJson } from './canonical.js';
import { TimestampSchema } from './model.js';
import { SignatureError, type SigningKey, type VerifyKey } from './signing.js';

/**
 * A release token lets one agent export one exact file (by SHA-256) in plaintext until an expiry, after
 * the release request was approved. Format: "est1.<base64url payload>.<base64url signature>".
 */
export const ReleaseTokenPayloadSchema = Type.Object(
  {
    v: Type.Literal(1),
    requestId: Type.String({ minLength: 1, maxLength: 64 }),
    agentId: Type.String({ minLength: 1, maxLength: 64 }),
    osUser: Type.String({ minLength: 1, maxLength: 256 }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    fileName: Type.String({ minLength: 1, maxLength: 1024 }),
    destination: Type.String({ minLength: 1, maxLength: 1024 }),
    expiresAt: TimestampSchema,
  },
  { additionalProperties: false },
);
export type ReleaseTokenPayload = Static<typeof ReleaseTokenPayloadSchema>;

const PREFIX = 'est1';
const CONTEXT = 'exitseal.dev/release-token/v1\n';

export function signReleaseToken(payload: ReleaseTokenPayload, key: SigningKey): string {
  const body = Buffer.from(canonicalJson(payload), 'utf8').toString('base64url');
  const signature = key.sign(Buffer.from(CONTEXT + body, 'utf8')).toString('base64url');
  return `${PREFIX}.${body}.${signature}`;
}

export interface ReleaseTokenCheck {
  readonly agentId: string;
  readonly osUser: string;
  readonly sha256: string;
  readonly now: Date;
}

/**
 * Verifies signature, then that the token is for this agent, user and file and not expired. Returns the
 * payload; throws SignatureError with a code saying which check failed.
 */
export function verifyReleaseToken(token: string, key: VerifyKey, expected: ReleaseTokenCheck): ReleaseTokenPayload {
  const parts = token.split('.');
  const [prefix, body, signature] = parts;
  if (parts.length !== 3 || prefix !== PREFIX || body === undefined || signature === undefined || body === '' || signature === '') {
    throw new SignatureError('SIGNED_DATA_INVALID', 'not a release token');
  }
  if (!key.verify(Buffer.from(CONTEXT + body, 'utf8'), Buffer.from(signature, 'base64url'))) {
    throw new SignatureError('SIGNATURE_INVALID', 'the release token signature does not verify with the server key');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new SignatureError('SIGNED_DATA_INVALID', 'the release token payload is not JSON', { cause });
  }
  if (!Value.Check(ReleaseTokenPayloadSchema, payload)) throw new SignatureError('SIGNED_DATA_INVALID', 'the release token payload is malformed');
  if (payload.agentId !== expected.agentId || payload.osUser !== expected.osUser || payload.sha256 !== expected.sha256.toLowerCase()) {
    throw new SignatureError('TOKEN_MISMATCH', 'the release token was issued for another file, PC or user');
  }
  if (Date.parse(payload.expiresAt) <= expected.now.getTime()) throw new SignatureError('TOKEN_EXPIRED', `the release token expired at ${payload.expiresAt}`);
  return payload;
}
