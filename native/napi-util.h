/*
 * The N-API helpers both native files use: errors whose `code` is the errno name, argument
 * unpacking, int results. Static inline: each translation unit gets its own copy, nothing is exported.
 */
#ifndef SRV6PIPES_NAPI_UTIL_H
#define SRV6PIPES_NAPI_UTIL_H

#include <errno.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* the most arguments any exported function takes */
#define MAX_ARGS 8

/* Throws an Error: code = the errno name, errno = -err, syscall; `log` (or NULL) becomes `.log`. */
static inline napi_value throw_errno_log(napi_env env, const char *syscall, int err, const char *log) {
  const char *name = strerrorname_np(err);
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall, strerror(err), name ? name : "?");
  napi_value code, message, error, errnum, sys;
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errnum);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_set_named_property(env, error, "errno", errnum);
  napi_set_named_property(env, error, "syscall", sys);
  if (log != NULL) {
    napi_value l;
    napi_create_string_utf8(env, log, NAPI_AUTO_LENGTH, &l);
    napi_set_named_property(env, error, "log", l);
  }
  napi_throw(env, error);
  return NULL;
}

static inline napi_value throw_errno(napi_env env, const char *syscall, int err) {
  return throw_errno_log(env, syscall, err, NULL);
}

static inline napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* argv must hold MAX_ARGS values; false when fewer than `want` were given */
static inline int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  return argc >= want;
}

static inline int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static inline int get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static inline int get_buf(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  return is_buf && napi_get_buffer_info(env, v, data, len) == napi_ok;
}

static inline napi_value make_i32(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

#endif
