{
  "targets": [
    {
      "target_name": "edgesight_sdnotify",
      "sources": ["sdnotify.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror", "-fvisibility=hidden"]
    }
  ]
}
