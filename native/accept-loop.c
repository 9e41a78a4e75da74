/*
 * The native accept on the JavaScript thread's own event loop (config nativeRelay.acceptOn: loop):
 * a libuv poll handle on the intercept listener; when it is readable the handler accepts what is
 * queued (accept4, TCP_NODELAY, the SYN's routing header and both addresses: accept.c) and hands
 * the records to JavaScript at once, in the same turn — no thread hop between the SYN and the
 * decision, as Node's own accept has, but no net.Socket. The records are the relay thread's
 * (accept.h); JavaScript answers each with relayAcceptConnect or fdReset (relay.c) or a net.Socket.
 * EMFILE & co.: an error record, then the handle stops for ACCEPT_PAUSE_MS (a timer restarts it).
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "accept.h"
#include "napi-util.h"

/* accepts per readable event, handed over together: at most ACCEPT_AHEAD undecided (accept.h) */
#define LOOP_BATCH ACCEPT_AHEAD
#define LOOP_PAUSE_MS 100

typedef struct loop_listener {
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  uv_poll_t poll;
  uv_timer_t timer;
  int fd, closing_handles;
  bool saved_syn, closed;
  uint8_t *buf;
} loop_listener_t;

static void deliver(loop_listener_t *l, size_t len) {
  napi_env env = l->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, buffer, recv;
  napi_get_reference_value(env, l->cb, &cb);
  napi_get_global(env, &recv); /* MakeCallback's receiver must be an object */
  if (napi_create_buffer_copy(env, len, l->buf, NULL, &buffer) == napi_ok) {
    napi_status st = napi_make_callback(env, l->ctx, recv, cb, 1, &buffer, NULL);
    if (st == napi_pending_exception) {
      napi_value e;
      napi_get_and_clear_last_exception(env, &e);
      napi_fatal_exception(env, e);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_timer(uv_timer_t *t);

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  loop_listener_t *l = h->data;
  if (l->closed) return;
  size_t len = 0;
  for (int i = 0; i < LOOP_BATCH && status == 0; i++) {
    struct sockaddr_in6 sa;
    socklen_t sl = sizeof sa;
    int fd = accept4(l->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM || err == ENETDOWN || err == ENOPROTOOPT ||
          err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH)
        continue;
      len += accept_error_record(l->buf + len, err);
      uv_poll_stop(&l->poll);
      uv_timer_start(&l->timer, on_timer, LOOP_PAUSE_MS, 0);
      break;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    len += accept_record(l->buf + len, fd, &sa, l->saved_syn);
  }
  if (len > 0) deliver(l, len);
}

static void on_timer(uv_timer_t *t) {
  loop_listener_t *l = t->data;
  if (!l->closed) uv_poll_start(&l->poll, UV_READABLE, on_readable);
}

static void on_handle_closed(uv_handle_t *h) {
  loop_listener_t *l = h->data;
  if (--l->closing_handles > 0) return;
  close(l->fd);
  free(l->buf);
  free(l);
}

/* Stops and closes (the descriptor too, once libuv let go of it); the JavaScript parts are released now. */
static void loop_close(loop_listener_t *l) {
  if (l->closed) return;
  l->closed = true;
  napi_delete_reference(l->env, l->cb);
  napi_async_destroy(l->env, l->ctx);
  uv_poll_stop(&l->poll);
  uv_timer_stop(&l->timer);
  l->closing_handles = 2;
  uv_close((uv_handle_t *)&l->poll, on_handle_closed);
  uv_close((uv_handle_t *)&l->timer, on_handle_closed);
}

static void loop_cleanup_hook(void *arg) {
  loop_listener_t *l = *(loop_listener_t **)arg;
  if (l) loop_close(l);
  free(arg);
}

/* acceptLoopListen(fd, savedSyn, callback(Buffer of accept records)) -> handle: accepts on fd from the event loop */
static napi_value js_accept_loop_listen(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  bool saved = false;
  napi_valuetype t;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || fd < 0 || napi_get_value_bool(env, argv[1], &saved) != napi_ok ||
      napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function)
    return throw_type(env, "acceptLoopListen(fd, savedSyn, callback)");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "napi_get_uv_event_loop", EINVAL);
  loop_listener_t *l = calloc(1, sizeof *l);
  uint8_t *buf = malloc((size_t)LOOP_BATCH * ACC_RECORD_MAX);
  loop_listener_t **hook = malloc(sizeof *hook);
  if (!l || !buf || !hook) {
    free(l);
    free(buf);
    free(hook);
    return throw_errno(env, "malloc", ENOMEM);
  }
  l->env = env;
  l->fd = fd;
  l->saved_syn = saved;
  l->buf = buf;
  int err = uv_poll_init(loop, &l->poll, fd);
  if (err) {
    free(l);
    free(buf);
    free(hook);
    return throw_errno(env, "uv_poll_init", -err);
  }
  uv_timer_init(loop, &l->timer);
  l->poll.data = l;
  l->timer.data = l;
  uv_unref((uv_handle_t *)&l->timer);
  napi_create_reference(env, argv[2], 1, &l->cb);
  napi_value name;
  napi_create_string_utf8(env, "srv6pipes accept", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &l->ctx);
  uv_poll_start(&l->poll, UV_READABLE, on_readable);
  *hook = l;
  napi_value handle;
  napi_create_external(env, hook, NULL, NULL, &handle);
  napi_add_env_cleanup_hook(env, loop_cleanup_hook, hook);
  return handle;
}

/* acceptLoopClose(handle): stops accepting and closes the listener. */
static napi_value js_accept_loop_close(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  void *data = NULL;
  if (!get_args(env, info, 1, argv) || napi_get_value_external(env, argv[0], &data) != napi_ok || !data)
    return throw_type(env, "acceptLoopClose(handle)");
  loop_listener_t **hook = data;
  if (*hook) {
    loop_close(*hook);
    *hook = NULL;
  }
  return NULL;
}

void srv6pipes_register_accept_loop(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"acceptLoopListen", NULL, js_accept_loop_listen, NULL, NULL, NULL, napi_default, NULL},
      {"acceptLoopClose", NULL, js_accept_loop_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}
