{
  "targets": [
    {
      "target_name": "tund_native",
      "sources": [
        "src/addon.cc",
        "src/tun.cc",
        "src/pump.cc",
        "src/vtun_codec.cc",
        "src/auth.cc",
        "src/pty.cc",
        "src/errors.cc",
        "src/errors_napi.cc",
        "src/wg_crypto.cc",
        "src/wg_noise.cc",
        "src/wg_cookie.cc",
        "src/wg_addon.cc",
        "src/engine_napi.cc",
        "src/engine/endpoint.cc",
        "src/engine/engine.cc",
        "src/engine/device.cc",
        "src/engine/offload.cc",
        "src/engine/transport.cc",
        "src/engine/vtun_transform.cc",
        "src/engine/allowed_ips.cc",
        "src/engine/wg_transform.cc",
        "src/engine/wg_cookie_gate.cc",
        "src/wg_engine_napi.cc",
        "src/socket.cc",
        "src/offload_napi.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "OPENSSL_API_COMPAT=0x10100000L", "OPENSSL_SUPPRESS_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-llzo2", "-lpthread"]
    }
  ]
}
