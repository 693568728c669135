// The benchmark's floor (benchmark/run.js prints it): the cost of one bare N-API call shaped
// like a sync get. get(key) reads the key string (UTF-8, copied into a stack buffer, as any
// addon must read it) and returns a new JS string of 155 bytes (a constant: no lookup at all).
#include <node_api.h>

static const char VALUE[] =
  "{\"id\":1234,\"url\":\"https://example.com/abcdefgh\",\"visits\":42,\"ts\":1700000000000,\"title\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";

static napi_value Get(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "get(key) needs a key");
    return NULL;
  }
  char key[1024];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], key, sizeof key, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "the key must be a string");
    return NULL;
  }
  napi_value out;
  if (napi_create_string_utf8(env, VALUE, sizeof VALUE - 1, &out) != napi_ok) return NULL;
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "get", NAPI_AUTO_LENGTH, Get, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "get", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
