export * from './errors.js';
export { decodeBase64NoPad, encodeBase64NoPad } from './age/base64.js';
export { bech32Decode, bech32Encode } from './age/bech32.js';
export { ARMOR_BEGIN, ARMOR_END, ArmorDecoder, ArmorEncoder, armor, dearmor, looksArmored } from './age/armor.js';
export {
  AGE_MAGIC,
  MAX_HEADER_BYTES,
  encodeHeader,
  parseHeader,
  verifyHeaderMac,
  HeaderIncomplete,
  type ParsedHeader,
  type Stanza,
} from './age/header.js';
export { DEFAULT_SCRYPT_LOG_N, MAX_SCRYPT_LOG_N } from './age/scrypt.js';
export { CHUNK_SIZE, ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_SIZE, PayloadDecryptor, PayloadEncryptor, type PayloadStreamOptions } from './age/stream.js';
export { TAG_SIZE } from './age/primitives.js';
export { ciphertextChunkCount, nodeChunkCipher, sealedRunLength, type ChunkCipher, type OpenedChunks } from './age/chunk-cipher.js';
export { X25519Identity, X25519Recipient } from './age/x25519.js';
export { PassphraseIdentity, findFileKey, type Identity } from './sealed/identities.js';
export { META_STANZA_TYPE, ZONE_ID_PATTERN, newFileId, validateZoneId, type SealMeta } from './sealed/meta.js';
export { generatePassphrase, PASSPHRASE_BITS } from './sealed/passphrase.js';
export {
  createSealer,
  describeHeader,
  inspect,
  isSealed,
  openStream,
  readHeader,
  rekeyForPassphrase,
  sealStream,
  unlockHeader,
  type FileKind,
  type Inspection,
  type OpenedStream,
  type RecipientCopy,
  type SealOptions,
  type Sealer,
} from './sealed/format.js';
