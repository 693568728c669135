{
  "targets": [
    {
      "target_name": "napi_floor",
      "sources": ["floor.c"],
      "cflags": ["-O2"]
    }
  ]
}
