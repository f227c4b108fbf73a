/* Module entry: registers what stream_cipher.c, seal_block.c and reserve_space.c implement. */
#include "addon.h"

#include <errno.h>
#include <stdio.h>

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
