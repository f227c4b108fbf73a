/* The functions the addon exports (registered in addon.c; see index.d.ts for their JavaScript side). */
#ifndef EXITSEAL_ADDON_H
#define EXITSEAL_ADDON_H

#include <node_api.h>
#include <stdbool.h>

/* Reads exactly `count` arguments into argv; otherwise throws ERR_INVALID_ARG_COUNT naming `usage`. */
bool get_exact_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage);

/* stream_cipher.c: the age STREAM payload. */
napi_value seal_chunks(napi_env env, napi_callback_info info);
napi_value open_chunks(napi_env env, napi_callback_info info);

/* reserve_space.c: preallocation of an output file. */
napi_value reserve_space(napi_env env, napi_callback_info info);

#endif
