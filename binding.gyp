{
  "targets": [
    {
      "target_name": "srv6pipes_native",
      "sources": ["native/srv6pipes.c", "native/bpf.c", "native/relay.c", "native/relay-ops.c", "native/tw.c", "native/accept.c", "native/accept-loop.c"],
      "cflags": ["-O2", "-pthread", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lm"]
    }
  ]
}
