export { canonicalJson } from './canonical.js';
export { cidrContains, parseCidr, parseIp, type Cidr, type IpAddress } from './ip.js';
export {
  APPROVER_ROLES,
  ApprovalChainSchema,
  CHANNEL_ACTIONS,
  CHANNELS,
  ChannelActionSchema,
  ChannelSchema,
  DeviceRuleSchema,
  OFFLINE_ACTIONS,
  ZoneDetectionSchema,
  ZoneIdSchema,
  ZonePolicySchema,
  ZoneSchema,
  ZoneWithPolicySchema,
  TimestampSchema,
  strictestPolicy,
  type ApprovalChain,
  type ApproverRole,
  type Channel,
  type ChannelAction,
  type DeviceRule,
  type Zone,
  type ZoneDetection,
  type ZonePolicy,
  type ZoneWithPolicy,
} from './model.js';
export { validatePolicySet, type PolicyProblem } from './validate.js';
export { detectZone, type NetworkFacts, type ZoneMatch } from './detect.js';
export { SignatureError, SigningKey, VerifyKey } from './signing.js';
export { BUNDLE_FORMAT_VERSION, BundlePayloadSchema, SignedBundleSchema, signBundle, verifyBundle, type BundlePayload, type SignedBundle } from './bundle.js';
export { ReleaseTokenPayloadSchema, signReleaseToken, verifyReleaseToken, type ReleaseTokenCheck, type ReleaseTokenPayload } from './releaseToken.js';
