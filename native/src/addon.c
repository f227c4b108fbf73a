/* Module entry: registers what stream_cipher.c and reserve_space.c implement. */
#include "addon.h"

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
    { "sealChunks", NULL, seal_chunks, NULL, NULL, NULL, napi_enumerable, NULL },
    { "openChunks", NULL, open_chunks, NULL, NULL, NULL, napi_enumerable, NULL },
    { "reserveSpace", NULL, reserve_space, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}
