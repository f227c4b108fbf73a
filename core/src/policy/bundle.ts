import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { canonicalJson } from './canonical.js';
import { TimestampSchema, ZoneIdSchema, ZonePolicySchema, ZoneSchema } from './model.js';
import { SignatureError, type SigningKey, type VerifyKey } from './signing.js';

export const BUNDLE_FORMAT_VERSION = 1;

const KeyVersionSchema = Type.Integer({ minimum: 1, maximum: 999_999_999 });

/**
 * Everything an agent needs to work offline: where it is (zone table), what to do (its zone's policy and
 * the fallback's), what to seal to, and which zone identities it may open (only its zone's matrix row).
 */
export const BundlePayloadSchema = Type.Object(
  {
    formatVersion: Type.Literal(BUNDLE_FORMAT_VERSION),
    revision: Type.Integer({ minimum: 1, description: 'bumps whenever zones, policies or keys change' }),
    issuedAt: TimestampSchema,
    agentId: Type.String({ minLength: 1, maxLength: 64 }),
    homeZoneId: ZoneIdSchema,
    zones: Type.Array(ZoneSchema),
    policies: Type.Array(Type.Object({ zoneId: ZoneIdSchema, policy: ZonePolicySchema }, { additionalProperties: false })),
    sealTo: Type.Object(
      { zoneId: ZoneIdSchema, keyVersion: KeyVersionSchema, recipient: Type.String({ pattern: '^age1[02-9ac-hj-np-z]{58}$' }) },
      { additionalProperties: false },
    ),
    recoveryRecipient: Type.Optional(Type.String({ pattern: '^age1[02-9ac-hj-np-z]{58}$' })),
    identities: Type.Array(
      Type.Object(
        { zoneId: ZoneIdSchema, keyVersion: KeyVersionSchema, secret: Type.String({ pattern: '^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$' }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type BundlePayload = Static<typeof BundlePayloadSchema>;

/** The payload travels as the exact text that was signed, so verification never depends on re-encoding. */
export const SignedBundleSchema = Type.Object(
  {
    payload: Type.String({ description: 'canonical JSON of the bundle payload' }),
    signature: Type.String({ description: 'Ed25519 signature over the payload text (UTF-8), base64' }),
  },
  { additionalProperties: false },
);
export type SignedBundle = Static<typeof SignedBundleSchema>;

const BUNDLE_CONTEXT = 'exitseal.dev/bundle/v1\n';

function signedBytes(payloadText: string): Buffer {
  return Buffer.from(BUNDLE_CONTEXT + payloadText, 'utf8');
}

export function signBundle(payload: BundlePayload, key: SigningKey): SignedBundle {
  const text = canonicalJson(payload);
  return { payload: text, signature: key.sign(signedBytes(text)).toString('base64') };
}

/**
 * Checks the signature with the key pinned at enrolment, then the payload's shape, and returns the payload.
 * Throws SignatureError: a bundle that fails here must not replace the cached one.
 */
export function verifyBundle(bundle: unknown, key: VerifyKey): BundlePayload {
  if (!Value.Check(SignedBundleSchema, bundle)) throw new SignatureError('SIGNED_DATA_INVALID', 'not a signed bundle');
  if (!key.verify(signedBytes(bundle.payload), Buffer.from(bundle.signature, 'base64'))) {
    throw new SignatureError('SIGNATURE_INVALID', 'the bundle signature does not verify with the server key');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(bundle.payload);
  } catch (cause) {
    throw new SignatureError('SIGNED_DATA_INVALID', 'the bundle payload is not JSON', { cause });
  }
  if (!Value.Check(BundlePayloadSchema, payload)) {
    const first = Value.Errors(BundlePayloadSchema, payload).First();
    throw new SignatureError('SIGNED_DATA_INVALID', `the bundle payload is malformed at ${first?.path ?? '/'}: ${first?.message ?? 'invalid'}`);
  }
  return payload;
}
