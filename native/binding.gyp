{
  "targets": [
    {
      "target_name": "exitseal_native",
      "sources": ["src/addon.c", "src/stream_cipher.c", "src/reserve_space.c"],
      "conditions": [["OS!='win'", { "sources": ["src/seal_block.c"] }]],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O2", "-Wall", "-Wextra"] },
      "msvs_settings": { "VCCLCompilerTool": { "WarningLevel": 3 } }
    }
  ]
}
