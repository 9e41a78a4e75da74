/*
 * srv6pipes native layer: the few socket syscalls Node.js does not expose.
 * Deliberately generic and thin: socket(), setsockopt(), getsockopt(), bind(),
 * listen(), close() and the constants they need. Everything else (SRH codec,
 * cmsg parsing, listener and outbound-socket composition) lives in TypeScript.
 * Every failure throws a JS Error whose `code` is the errno name (e.g. EADDRINUSE).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IPV6_2292PKTOPTIONS
#define IPV6_2292PKTOPTIONS 6
#endif

#define MAX_ARGS 5

static napi_value throw_errno(napi_env env, const char *syscall, int err) {
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
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  return argc >= want;
}

static int get_i32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

static napi_value make_i32(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

/* socket(domain, type, protocol) -> fd; always non-blocking and close-on-exec. */
static napi_value js_socket(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t domain, type, proto;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &domain) || !get_i32(env, argv[1], &type) ||
      !get_i32(env, argv[2], &proto))
    return throw_type(env, "socket(domain, type, protocol): numbers expected");
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return throw_errno(env, "socket", errno);
  return make_i32(env, fd);
}

/* setsockoptInt(fd, level, name, value) */
static napi_value js_setsockopt_int(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, level, name, value;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &level) ||
      !get_i32(env, argv[2], &name) || !get_i32(env, argv[3], &value))
    return throw_type(env, "setsockoptInt(fd, level, name, value): numbers expected");
  int v = value;
  if (setsockopt(fd, level, name, &v, sizeof v) < 0) return throw_errno(env, "setsockopt", errno);
  return NULL;
}

/* setsockoptBuffer(fd, level, name, buffer | null); null sets an empty option (clears it). */
static napi_value js_setsockopt_buf(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, level, name;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &level) ||
      !get_i32(env, argv[2], &name))
    return throw_type(env, "setsockoptBuffer(fd, level, name, buffer|null): numbers expected");
  void *data = NULL;
  size_t len = 0;
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  if (t != napi_null && t != napi_undefined) {
    bool is_buf = false;
    napi_is_buffer(env, argv[3], &is_buf);
    if (!is_buf) return throw_type(env, "setsockoptBuffer: the value must be a Buffer or null");
    napi_get_buffer_info(env, argv[3], &data, &len);
  }
  if (setsockopt(fd, level, name, data, (socklen_t)len) < 0) return throw_errno(env, "setsockopt", errno);
  return NULL;
}

/* getsockoptBuffer(fd, level, name, maxLength) -> Buffer of the returned length. */
static napi_value js_getsockopt_buf(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, level, name, maxlen;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &level) ||
      !get_i32(env, argv[2], &name) || !get_i32(env, argv[3], &maxlen) || maxlen < 0 || maxlen > 65536)
    return throw_type(env, "getsockoptBuffer(fd, level, name, maxLength 0..65536): numbers expected");
  char stackbuf[4096];
  char *buf = maxlen <= (int32_t)sizeof stackbuf ? stackbuf : malloc((size_t)maxlen);
  if (buf == NULL) return throw_errno(env, "malloc", ENOMEM);
  socklen_t len = (socklen_t)maxlen;
  if (getsockopt(fd, level, name, buf, &len) < 0) {
    int err = errno;
    if (buf != stackbuf) free(buf);
    return throw_errno(env, "getsockopt", err);
  }
  napi_value result;
  void *copy;
  napi_create_buffer_copy(env, len, buf, &copy, &result);
  if (buf != stackbuf) free(buf);
  return result;
}

/* getsockoptInt(fd, level, name) -> number */
static napi_value js_getsockopt_int(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, level, name;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &level) ||
      !get_i32(env, argv[2], &name))
    return throw_type(env, "getsockoptInt(fd, level, name): numbers expected");
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, name, &v, &len) < 0) return throw_errno(env, "getsockopt", errno);
  return make_i32(env, v);
}

/* bind6(fd, address: 16-byte Buffer, port, scopeId) */
static napi_value js_bind6(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, port, scope;
  void *addr;
  size_t alen = 0;
  bool is_buf = false;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[2], &port) ||
      !get_i32(env, argv[3], &scope))
    return throw_type(env, "bind6(fd, address, port, scopeId): numbers expected");
  napi_is_buffer(env, argv[1], &is_buf);
  if (!is_buf) return throw_type(env, "bind6: the address must be a 16-byte Buffer");
  napi_get_buffer_info(env, argv[1], &addr, &alen);
  if (alen != 16 || port < 0 || port > 65535) return throw_type(env, "bind6: 16-byte address and port 0..65535");
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons((uint16_t)port);
  sa.sin6_scope_id = (uint32_t)scope;
  memcpy(&sa.sin6_addr, addr, 16);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return throw_errno(env, "bind", errno);
  return NULL;
}

/* listen(fd, backlog) */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, backlog;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &backlog))
    return throw_type(env, "listen(fd, backlog): numbers expected");
  if (listen(fd, backlog) < 0) return throw_errno(env, "listen", errno);
  return NULL;
}

/* close(fd): only for descriptors not yet handed to a net.Socket / net.Server. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd))
    return throw_type(env, "close(fd): a number expected");
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

static void set_const(napi_env env, napi_value obj, const char *name, int32_t v) {
  napi_set_named_property(env, obj, name, make_i32(env, v));
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL},
      {"setsockoptInt", NULL, js_setsockopt_int, NULL, NULL, NULL, napi_default, NULL},
      {"setsockoptBuffer", NULL, js_setsockopt_buf, NULL, NULL, NULL, napi_default, NULL},
      {"getsockoptInt", NULL, js_getsockopt_int, NULL, NULL, NULL, napi_default, NULL},
      {"getsockoptBuffer", NULL, js_getsockopt_buf, NULL, NULL, NULL, napi_default, NULL},
      {"bind6", NULL, js_bind6, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);

  napi_value c;
  napi_create_object(env, &c);
  set_const(env, c, "AF_INET6", AF_INET6);
  set_const(env, c, "SOCK_STREAM", SOCK_STREAM);
  set_const(env, c, "IPPROTO_TCP", IPPROTO_TCP);
  set_const(env, c, "IPPROTO_MPTCP", IPPROTO_MPTCP);
  set_const(env, c, "IPPROTO_IPV6", IPPROTO_IPV6);
  set_const(env, c, "SOL_SOCKET", SOL_SOCKET);
  set_const(env, c, "SO_REUSEADDR", SO_REUSEADDR);
  set_const(env, c, "SO_REUSEPORT", SO_REUSEPORT);
  set_const(env, c, "SO_MARK", SO_MARK);
  set_const(env, c, "SO_ERROR", SO_ERROR);
  set_const(env, c, "SO_LINGER", SO_LINGER);
  set_const(env, c, "TCP_NODELAY", TCP_NODELAY);
  set_const(env, c, "IPV6_V6ONLY", IPV6_V6ONLY);
  set_const(env, c, "IPV6_TRANSPARENT", IPV6_TRANSPARENT);
  set_const(env, c, "IPV6_RECVRTHDR", IPV6_RECVRTHDR);
  set_const(env, c, "IPV6_RTHDR", IPV6_RTHDR);
  set_const(env, c, "IPV6_2292PKTOPTIONS", IPV6_2292PKTOPTIONS);
  set_const(env, c, "SIZEOF_SIZE_T", (int32_t)sizeof(size_t));
  napi_set_named_property(env, exports, "constants", c);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
