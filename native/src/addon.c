/* Module entry: registers what stream_cipher.c, seal_block.c and reserve_space.c implement. */
#include "addon.h"

#include <errno.h>
#include <stdio.h>

bool get_integer(napi_env env, napi_value value, const char *name, double low, double high, double *number) {
  napi_valuetype type;
  char message[96];
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    snprintf(message, sizeof message, "%s must be a number", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  napi_get_value_double(env, value, number);
  if (!(*number >= low && *number <= high) || *number != (double)(int64_t)*number) {
    snprintf(message, sizeof message, "%s must be an integer from %.0f to %.0f", name, low, high);
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", message);
    return false;
  }
  return true;
}

napi_value error_with_code(napi_env env, const char *code_text, const char *text) {
  napi_value code, message, error;
  napi_create_string_utf8(env, code_text, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  return error;
}

bool start_job(napi_env env, const char *name, napi_async_execute_callback run, napi_async_complete_callback done, void *data,
               napi_async_work *work, napi_deferred *deferred, napi_value *promise) {
  napi_value resource_name;
  if (napi_create_promise(env, deferred, promise) != napi_ok || napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_create_async_work(env, NULL, resource_name, run, done, data, work) != napi_ok) {
    return false;
  }
  if (napi_queue_async_work(env, *work) != napi_ok) {
    napi_delete_async_work(env, *work);
    return false;
  }
  return true;
}

const char *errno_code(int error) {
  switch (error) {
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EROFS: return "EROFS";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
#if !defined(_WIN32)
    case EDQUOT: return "EDQUOT";
    case ENOTCONN: return "ENOTCONN";
    case ECONNABORTED: return "ECONNABORTED";
    case ESTALE: return "ESTALE";
    case ETXTBSY: return "ETXTBSY";
#endif
    default: return "ERR_SYSTEM";
  }
}

bool get_exact_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv, const char *usage) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc != count) {
    char message[128];
    snprintf(message, sizeof message, "expected %s", usage);
    napi_throw_type_error(env, "ERR_INVALID_ARG_COUNT", message);
    return false;
  }
  return true;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
    { "sealChunks", NULL, seal_chunks, NULL, NULL, NULL, napi_enumerable, NULL },
    { "openChunks", NULL, open_chunks, NULL, NULL, NULL, napi_enumerable, NULL },
    { "reserveSpace", NULL, reserve_space, NULL, NULL, NULL, napi_enumerable, NULL },
#if !defined(_WIN32)
    { "sealFileBlock", NULL, seal_file_block, NULL, NULL, NULL, napi_enumerable, NULL },
#endif
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}
