/*
 * The age STREAM payload (ChaCha20-Poly1305 over 64 KiB chunks) through the OpenSSL that Node itself links:
 * the same EVP primitive node:crypto uses, driven with one cipher context per call and the caller's buffers.
 *
 * Why this exists: node:crypto's cipher.update() allocates a fresh output buffer for every chunk and needs a new
 * cipher object per chunk (every chunk has its own nonce), which measured at about 0.52-0.58 s per GiB here;
 * the same EVP calls on reused buffers take 0.29 s. Nothing in here chooses keys or nonces' meaning beyond the
 * age spec: the 11-byte big-endian chunk counter and the final-chunk flag.
 *
 * DANGER: every length below comes from JavaScript. All of them are checked before any byte is touched, and
 * a chunk's plaintext is left in the output only after its tag verified (a failing chunk's output is wiped).
 */
#include "addon.h"

#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool get_bytes(napi_env env, napi_value value, const char *name, unsigned char **data, size_t *length) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a Buffer or Uint8Array", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  napi_typedarray_type type;
  void *bytes = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &bytes, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a Buffer or Uint8Array", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  *data = bytes;
  return true;
}

static bool ranges_overlap(const unsigned char *a, size_t a_length, const unsigned char *b, size_t b_length) {
  if (a_length == 0 || b_length == 0) return false;
  uintptr_t a_start = (uintptr_t)a, b_start = (uintptr_t)b;
  return a_start < b_start + b_length && b_start < a_start + a_length;
}

/* argv[0..4] = (key, counter, input, final, output): the common argument checks of every chunk function. */
bool read_chunk_args(napi_env env, napi_value *argv, chunk_call *call) {
  unsigned char *key = NULL;
  size_t key_length = 0;
  if (!get_bytes(env, argv[0], "key", &key, &key_length)) return false;
  if (key_length != KEY_SIZE) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "key must be 32 bytes");
    return false;
  }
  double counter = 0;
  if (napi_get_value_double(env, argv[1], &counter) != napi_ok || !(counter >= 0 && counter <= MAX_COUNTER) ||
      counter != (double)(uint64_t)counter) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "counter must be an integer from 0 to 2^53 - 1");
    return false;
  }
  unsigned char *input = NULL;
  size_t input_length = 0;
  if (!get_bytes(env, argv[2], "input", &input, &input_length)) return false;
  bool final = false;
  if (napi_get_value_bool(env, argv[3], &final) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "final must be a boolean");
    return false;
  }
  unsigned char *output = NULL;
  size_t output_length = 0;
  if (!get_bytes(env, argv[4], "output", &output, &output_length)) return false;
  if (input_length > (size_t)INT32_MAX) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "input must be under 2 GiB per call");
    return false;
  }
  call->key = key;
  call->counter = (uint64_t)counter;
  call->input = input;
  call->input_length = input_length;
  call->final = final;
  call->output = output;
  call->output_length = output_length;
  return true;
}

static bool read_call(napi_env env, napi_callback_info info, chunk_call *call) {
  napi_value argv[5];
  if (!get_exact_args(env, info, 5, argv, "(key, counter, input, final, output)")) return false;
  return read_chunk_args(env, argv, call);
}

bool check_room(napi_env env, const chunk_call *call, size_t chunks, size_t needed) {
  /* In integers: counter + chunks - 1 in doubles would round back under the limit. */
  if ((uint64_t)(chunks - 1) > (uint64_t)MAX_COUNTER - call->counter) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "chunk counter would pass 2^53 - 1");
    return false;
  }
  if (call->output_length < needed) {
    napi_throw_range_error(env, "ERR_BUFFER_TOO_SMALL", "output is too small for these chunks");
    return false;
  }
  if (ranges_overlap(call->input, call->input_length, call->output, needed)) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "input and output must not overlap");
    return false;
  }
  return true;
}

/* age STREAM nonce: 11-byte big-endian counter, then 1 for the final chunk and 0 otherwise. */
static void chunk_nonce(unsigned char nonce[NONCE_SIZE], uint64_t counter, bool last) {
  memset(nonce, 0, NONCE_SIZE);
  for (unsigned i = 0; i < 8; i++) nonce[10 - i] = (unsigned char)(counter >> (8 * i));
  nonce[11] = last ? 1 : 0;
}

static napi_value throw_openssl(napi_env env, EVP_CIPHER_CTX *ctx) {
  EVP_CIPHER_CTX_free(ctx);
  napi_throw_error(env, "ERR_OPENSSL", "OpenSSL failed to run ChaCha20-Poly1305");
  return NULL;
}

/* Checks the sealing rules and room for `call`; returns the number of chunks, 0 after throwing. */
size_t check_seal_call(napi_env env, const chunk_call *call) {
  if (!call->final && (call->input_length == 0 || call->input_length % CHUNK_SIZE != 0)) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "without final, plaintext must be one or more whole chunks");
    return 0;
  }
  size_t chunks = call->input_length == 0 ? 1 : (call->input_length + CHUNK_SIZE - 1) / CHUNK_SIZE;
  return check_room(env, call, chunks, call->input_length + chunks * TAG_SIZE) ? chunks : 0;
}

/*
 * Seals a checked call (see check_seal_call). Touches no JavaScript value, so it may run in the thread pool.
 * Returns the bytes written into call->output, or 0 when OpenSSL failed.
 */
size_t seal_run(const chunk_call *call) {
  size_t chunks = call->input_length == 0 ? 1 : (call->input_length + CHUNK_SIZE - 1) / CHUNK_SIZE;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, call->key, NULL) != 1) goto failed;
  size_t in_offset = 0, out_offset = 0;
  unsigned char nonce[NONCE_SIZE];
  for (size_t index = 0; index < chunks; index++) {
    size_t length = call->input_length - in_offset < CHUNK_SIZE ? call->input_length - in_offset : CHUNK_SIZE;
    chunk_nonce(nonce, call->counter + index, call->final && index == chunks - 1);
    int written = 0, finished = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1) goto failed;
    if (length > 0 && EVP_EncryptUpdate(ctx, call->output + out_offset, &written, call->input + in_offset, (int)length) != 1) goto failed;
    if ((size_t)written != length || EVP_EncryptFinal_ex(ctx, call->output + out_offset + written, &finished) != 1 || finished != 0) goto failed;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TAG_SIZE, call->output + out_offset + length) != 1) goto failed;
    in_offset += length;
    out_offset += length + TAG_SIZE;
  }
  EVP_CIPHER_CTX_free(ctx);
  return out_offset;
failed:
  EVP_CIPHER_CTX_free(ctx);
  return 0;
}

/*
 * sealChunks(key, counter, plaintext, final, output) -> bytes written.
 * Encrypts plaintext as chunks numbered from counter: each CHUNK_SIZE bytes except, when final, the last one,
 * which may be shorter (or the only one, and empty) and carries the final flag. Without final the plaintext
 * must be whole chunks. Writes chunk || tag for each chunk into output.
 */
napi_value seal_chunks(napi_env env, napi_callback_info info) {
  chunk_call call;
  if (!read_call(env, info, &call)) return NULL;
  if (check_seal_call(env, &call) == 0) return NULL;
  size_t written = seal_run(&call);
  if (written == 0) {
    napi_throw_error(env, "ERR_OPENSSL", "OpenSSL failed to run ChaCha20-Poly1305");
    return NULL;
  }
  napi_value result;
  napi_create_double(env, (double)written, &result);
  return result;
}

/*
 * openChunks(key, counter, ciphertext, final, output) -> chunks authenticated.
 * Decrypts encrypted chunks (chunk || tag) numbered from counter. Without final they must all be whole and are
 * checked as non-final chunks; with final the last one may be shorter (at least a tag) and is checked as the
 * final chunk. Stops at the first chunk that does not authenticate: its output is wiped, and the plaintext of
 * the chunks before it (CHUNK_SIZE bytes each) is at the start of output.
 */
napi_value open_chunks(napi_env env, napi_callback_info info) {
  chunk_call call;
  if (!read_call(env, info, &call)) return NULL;
  size_t chunks;
  if (call.final) {
    chunks = (call.input_length + ENCRYPTED_CHUNK_SIZE - 1) / ENCRYPTED_CHUNK_SIZE;
    if (chunks == 0 || call.input_length - (chunks - 1) * ENCRYPTED_CHUNK_SIZE < TAG_SIZE) {
      napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "with final, the last chunk must hold at least a tag");
      return NULL;
    }
  } else {
    if (call.input_length % ENCRYPTED_CHUNK_SIZE != 0) {
      napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "without final, ciphertext must be whole chunks");
      return NULL;
    }
    chunks = call.input_length / ENCRYPTED_CHUNK_SIZE;
  }
  size_t needed = call.input_length - chunks * TAG_SIZE;
  if (!check_room(env, &call, chunks == 0 ? 1 : chunks, needed)) return NULL;

  size_t authenticated = 0;
  if (chunks > 0) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), NULL, call.key, NULL) != 1) return throw_openssl(env, ctx);
    size_t in_offset = 0, out_offset = 0;
    unsigned char nonce[NONCE_SIZE];
    for (; authenticated < chunks; authenticated++) {
      size_t sealed_length = call.input_length - in_offset < ENCRYPTED_CHUNK_SIZE ? call.input_length - in_offset : ENCRYPTED_CHUNK_SIZE;
      size_t length = sealed_length - TAG_SIZE;
      chunk_nonce(nonce, call.counter + authenticated, call.final && authenticated == chunks - 1);
      int written = 0, finished = 0;
      if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1) return throw_openssl(env, ctx);
      /* OpenSSL copies the tag; the cast only drops const from its void* parameter. */
      if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TAG_SIZE, (void *)(call.input + in_offset + length)) != 1) return throw_openssl(env, ctx);
      if (length > 0 && EVP_DecryptUpdate(ctx, call.output + out_offset, &written, call.input + in_offset, (int)length) != 1) return throw_openssl(env, ctx);
      if ((size_t)written != length) return throw_openssl(env, ctx);
      if (EVP_DecryptFinal_ex(ctx, call.output + out_offset + written, &finished) != 1) {
        OPENSSL_cleanse(call.output + out_offset, length);
        break;
      }
      in_offset += sealed_length;
      out_offset += length;
    }
    EVP_CIPHER_CTX_free(ctx);
  }
  napi_value result;
  napi_create_double(env, (double)authenticated, &result);
  return result;
}
