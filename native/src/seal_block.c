/*
 * sealFileBlock(key, counter, input, final, output, length, inFd, inPosition, outFd, outPosition)
 *   -> Promise<number>
 * In libuv's thread pool: reads `length` bytes of inFd at inPosition into `input`, seals them as age STREAM
 * chunks numbered from `counter` (the last one flagged final when `final`) into `output`, and writes those to
 * outFd at outPosition. Resolves with the bytes written (chunks plus a tag each).
 *
 * Why this exists: sealing a large file from JavaScript keeps the cipher on the main thread while the thread
 * pool reads and writes, and on two cores the main thread was the bottleneck (1 GiB: 0.45 s of its CPU time in
 * a 0.58 s seal). Here a whole block (read, seal, write) is one job, and the agent keeps three in
 * flight: with positional reads and writes, blocks do not depend on each other. A C prototype of exactly this
 * sealed 1 GiB in 0.32-0.36 s on two cores, against 0.61-0.63 s with one thread.
 *
 * DANGER: the job uses `input` and `output` after this call returns. References keep them alive, and the
 * caller must neither read nor change them, nor close either file, until the promise settles. Every argument
 * is checked here first, as in sealChunks. A short read (the input shrank) fails with ERR_INPUT_SHRANK and
 * writes nothing; a failing write leaves whatever part of the block the file system took.
 */
#include "addon.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_POSITION 9007199254740991.0
#define MAX_FD 2147483647.0

typedef enum { BLOCK_OK, BLOCK_SYSTEM_ERROR, BLOCK_INPUT_SHRANK, BLOCK_OPENSSL_FAILED } block_outcome;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  napi_ref output_ref;
  unsigned char key[KEY_SIZE];
  chunk_call call;
  int in_fd;
  int out_fd;
  off_t in_position;
  off_t out_position;
  size_t written;
  block_outcome outcome;
  int error;
} block_job;

/* Runs in the thread pool: no N-API calls here. */
static void run_block(napi_env env, void *data) {
  (void)env;
  block_job *job = data;
  unsigned char *input = (unsigned char *)job->call.input;
  size_t length = job->call.input_length, got = 0;
  while (got < length) {
    ssize_t result = pread(job->in_fd, input + got, length - got, job->in_position + (off_t)got);
    if (result < 0 && errno == EINTR) continue;
    if (result < 0) {
      job->outcome = BLOCK_SYSTEM_ERROR;
      job->error = errno;
      return;
    }
    if (result == 0) {
      job->outcome = BLOCK_INPUT_SHRANK;
      return;
    }
    got += (size_t)result;
  }
  size_t sealed = seal_run(&job->call);
  if (sealed == 0) {
    job->outcome = BLOCK_OPENSSL_FAILED;
    return;
  }
  size_t put = 0;
  while (put < sealed) {
    ssize_t result = pwrite(job->out_fd, job->call.output + put, sealed - put, job->out_position + (off_t)put);
    if (result < 0 && errno == EINTR) continue;
    if (result <= 0) {
      job->outcome = BLOCK_SYSTEM_ERROR;
      job->error = result < 0 ? errno : EIO;
      return;
    }
    put += (size_t)result;
  }
  job->written = sealed;
  job->outcome = BLOCK_OK;
}

/* Back on the JavaScript thread: settles the promise, lets the buffers go and frees the job. */
static void settle_block(napi_env env, napi_status status, void *data) {
  block_job *job = data;
  napi_value value;
  char text[160];
  if (status != napi_ok) {
    napi_reject_deferred(env, job->deferred, error_with_code(env, "ERR_SEAL_BLOCK", "the block job was cancelled"));
  } else if (job->outcome == BLOCK_OK) {
    napi_create_double(env, (double)job->written, &value);
    napi_resolve_deferred(env, job->deferred, value);
  } else if (job->outcome == BLOCK_SYSTEM_ERROR) {
    snprintf(text, sizeof text, "sealing a block failed: %s", strerror(job->error));
    napi_reject_deferred(env, job->deferred, error_with_code(env, errno_code(job->error), text));
  } else if (job->outcome == BLOCK_INPUT_SHRANK) {
    napi_reject_deferred(env, job->deferred, error_with_code(env, "ERR_INPUT_SHRANK", "the input ended before the expected length: it changed while being sealed"));
  } else {
    napi_reject_deferred(env, job->deferred, error_with_code(env, "ERR_OPENSSL", "OpenSSL failed to run ChaCha20-Poly1305"));
  }
  OPENSSL_cleanse(job->key, sizeof job->key);
  napi_delete_reference(env, job->input_ref);
  napi_delete_reference(env, job->output_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

napi_value seal_file_block(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!get_exact_args(env, info, 10, argv, "(key, counter, input, final, output, length, inFd, inPosition, outFd, outPosition)")) return NULL;
  chunk_call call;
  if (!read_chunk_args(env, argv, &call)) return NULL;
  double length, in_fd, in_position, out_fd, out_position;
  if (!get_integer(env, argv[5], "length", 0, (double)call.input_length, &length)) return NULL;
  if (!get_integer(env, argv[6], "inFd", 0, MAX_FD, &in_fd) || !get_integer(env, argv[7], "inPosition", 0, MAX_POSITION, &in_position)) return NULL;
  if (!get_integer(env, argv[8], "outFd", 0, MAX_FD, &out_fd) || !get_integer(env, argv[9], "outPosition", 0, MAX_POSITION, &out_position)) return NULL;
  call.input_length = (size_t)length;
  /* The whole output buffer may not overlap the whole input buffer: the job reads into all of `length`. */
  if (check_seal_call(env, &call) == 0) return NULL;

  block_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ERR_MEMORY", "out of memory");
    return NULL;
  }
  memcpy(job->key, call.key, KEY_SIZE);
  job->call = call;
  job->call.key = job->key;
  job->in_fd = (int)in_fd;
  job->out_fd = (int)out_fd;
  job->in_position = (off_t)in_position;
  job->out_position = (off_t)out_position;
  napi_value promise;
  if (napi_create_reference(env, argv[2], 1, &job->input_ref) != napi_ok || napi_create_reference(env, argv[4], 1, &job->output_ref) != napi_ok ||
      !start_job(env, "exitseal:sealFileBlock", run_block, settle_block, job, &job->work, &job->deferred, &promise)) {
    /* Rare (out of memory): give back what was taken and say so. */
    if (job->input_ref != NULL) napi_delete_reference(env, job->input_ref);
    if (job->output_ref != NULL) napi_delete_reference(env, job->output_ref);
    OPENSSL_cleanse(job->key, sizeof job->key);
    free(job);
    napi_throw_error(env, "ERR_SEAL_BLOCK", "could not start the block job");
    return NULL;
  }
  return promise;
}
