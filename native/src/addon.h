/* The functions the addon exports (registered in addon.c; see index.d.ts for their JavaScript side). */
#ifndef EXITSEAL_ADDON_H
#define EXITSEAL_ADDON_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNK_SIZE 65536u
#define TAG_SIZE 16u
#define ENCRYPTED_CHUNK_SIZE (CHUNK_SIZE + TAG_SIZE)
#define KEY_SIZE 32u
#define NONCE_SIZE 12u
/* Counters stay exact in a JavaScript number up to 2^53; that many chunks is 512 PiB. */
#define MAX_COUNTER 9007199254740991.0

typedef struct {
  const unsigned char *key;
  uint64_t counter;
  const unsigned char *input;
  size_t input_length;
  bool final;
  unsigned char *output;
  size_t output_length;
} chunk_call;

/* Reads exactly `count` arguments into argv; otherwise throws ERR_INVALID_ARG_COUNT naming `usage`. */
bool get_exact_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage);
/* Reads a number that must be an integer from low to high; otherwise throws and returns false. */
bool get_integer(napi_env env, napi_value value, const char *name, double low, double high, double *number);
/* An Error with `code` set, for rejecting a promise. */
napi_value error_with_code(napi_env env, const char *code, const char *message);
/*
 * Queues `run` in libuv's thread pool with `done` back on the JavaScript thread, behind a new promise. Returns
 * false when N-API could not (out of memory): the caller then frees `data` and throws.
 */
bool start_job(napi_env env, const char *name, napi_async_execute_callback run, napi_async_complete_callback done, void *data,
               napi_async_work *work, napi_deferred *deferred, napi_value *promise);

/* stream_cipher.c: the age STREAM payload. */
napi_value seal_chunks(napi_env env, napi_callback_info info);
napi_value open_chunks(napi_env env, napi_callback_info info);
/* Shared with seal_block.c: argument checks (they throw and return false/0) and the sealing itself. */
bool get_bytes(napi_env env, napi_value value, const char *name, unsigned char **data, size_t *length);
bool read_chunk_args(napi_env env, napi_value *argv, chunk_call *call);
bool check_room(napi_env env, const chunk_call *call, size_t chunks, size_t needed);
size_t check_seal_call(napi_env env, const chunk_call *call);
size_t seal_run(const chunk_call *call);

/* seal_block.c: one block of a file sealed into another file, in the thread pool (POSIX only). */
napi_value seal_file_block(napi_env env, napi_callback_info info);

/* The errno's name (ENOSPC, EIO...) for an Error's code; a generic code for the rare others. */
const char *errno_code(int error);

/* reserve_space.c: preallocation of an output file. */
napi_value reserve_space(napi_env env, napi_callback_info info);

#endif
