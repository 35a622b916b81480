{
  "targets": [
    {
      "target_name": "tsor_native",
      "sources": [
        "src/addon.cc",
        "src/process.cc",
        "src/fdpass.cc",
        "src/seccomp.cc",
        "src/memory.cc",
        "src/ptrace.cc",
        "src/unix.cc",
        "src/inet.cc",
        "src/inotify.cc",
        "src/epoll.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "cflags": ["-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
