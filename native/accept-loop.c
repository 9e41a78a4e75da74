/*
 * The native accept on the JavaScript thread's own event loop (config nativeRelay.acceptOn: loop):
 * a libuv poll handle on the intercept listener; when it is readable the handler accepts what is
 * queued (accept4, TCP_NODELAY, the SYN's routing header and both addresses: accept.c) and hands
 * the records to JavaScript at once, in the same turn — no thread hop between the SYN and the
 * decision, as Node's own accept has, but no net.Socket. The records are the relay thread's
 * (accept.h); JavaScript answers each with relayAcceptConnect or fdReset (relay.c) or a net.Socket.
 * EMFILE & co.: an error record, then the handle stops for ACCEPT_PAUSE_MS (a timer restarts it).
 *
 * Early onward connect (config nativeRelay.connectEarly): JavaScript may teach the listener, per SYN
 * routing header it has decided before (the exact bytes), the onward routing header its decision gave
 * (acceptLoopEarlySet). A connection whose SYN carries a header the table knows gets its onward
 * socket made and connecting here, before JavaScript sees the record (the record carries the
 * descriptor and the entry's generation): the handshake to the next hop runs while JavaScript decides.
 * JavaScript still decides every connection and adopts the descriptor (relayAcceptAdopt) or resets it.
 * The table is direct-mapped (EARLY_SLOTS entries, a collision replaces): bounded whatever arrives.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include "accept.h"
#include "napi-util.h"

/* accepts per readable event, handed over together: at most ACCEPT_AHEAD undecided (accept.h) */
#define LOOP_BATCH ACCEPT_AHEAD
#define LOOP_PAUSE_MS 100
#define EARLY_SLOTS 256

typedef struct early_entry {
  uint32_t gen; /* 0: empty */
  uint16_t in_len, out_len;
  uint8_t *in, *out;
} early_entry_t;

typedef struct loop_listener {
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  uv_poll_t poll;
  uv_timer_t timer;
  int fd, closing_handles;
  bool saved_syn, closed, early_on;
  uint8_t *buf;
  early_entry_t *early; /* EARLY_SLOTS, allocated by the first acceptLoopEarlySet */
  uint32_t early_gen;
} loop_listener_t;

static uint32_t fnv1a(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

static void early_free(loop_listener_t *l) {
  if (!l->early) return;
  for (int i = 0; i < EARLY_SLOTS; i++) {
    free(l->early[i].in);
    free(l->early[i].out);
  }
  free(l->early);
  l->early = NULL;
}

static void put32le(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/*
 * The onward socket of accepted `fd` (peer `client`), as relayAcceptConnect makes it: transparent,
 * the onward routing header, TCP_NODELAY, SO_REUSEADDR, bound to the client's address (any port),
 * connecting to the accepted socket's local address. -1 when any step fails: JavaScript then connects
 * as without the table, and reports what fails.
 */
static int early_connect(int fd, const struct sockaddr_in6 *client, const early_entry_t *e) {
  struct sockaddr_in6 c = *client, srv;
  socklen_t sl = sizeof srv;
  if (getsockname(fd, (struct sockaddr *)&srv, &sl) < 0) return -1;
  c.sin6_port = 0;
  int fb = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fb < 0) return -1;
  int one = 1;
  if (setsockopt(fb, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof one) < 0 ||
      (e->out_len > 0 && setsockopt(fb, IPPROTO_IPV6, IPV6_RTHDR, e->out, e->out_len) < 0) ||
      setsockopt(fb, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 || setsockopt(fb, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fb, (struct sockaddr *)&c, sizeof c) < 0 || (connect(fb, (struct sockaddr *)&srv, sl) < 0 && errno != EINPROGRESS)) {
    close(fb);
    return -1;
  }
  return fb;
}

/* The record at `rec` (accept_record's): its onward socket started when the table knows its SYN's header. */
static void early_start(loop_listener_t *l, uint8_t *rec, int fd, const struct sockaddr_in6 *client) {
  int16_t srh = (int16_t)((uint16_t)rec[12] | (uint16_t)rec[13] << 8);
  if (srh <= 0) return;
  const uint8_t *in = rec + ACC_HEADER + rec[1] + rec[2];
  early_entry_t *e = &l->early[fnv1a(in, (size_t)srh) % EARLY_SLOTS];
  if (e->gen == 0 || e->in_len != (uint16_t)srh || memcmp(e->in, in, (size_t)srh) != 0) return;
  int fb = early_connect(fd, client, e);
  if (fb < 0) return;
  put32le(rec + 16, (uint32_t)fb);
  put32le(rec + 20, e->gen);
}

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
    uint8_t *rec = l->buf + len;
    len += accept_record(rec, fd, &sa, l->saved_syn);
    if (l->early_on && l->early) early_start(l, rec, fd, &sa);
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
  early_free(l);
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

static loop_listener_t *get_listener(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) return NULL;
  return *(loop_listener_t **)data;
}

/* acceptLoopEarly(handle, on): early onward connects for the SYN headers the table knows, or none. */
static napi_value js_accept_loop_early(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  bool on = false;
  if (!get_args(env, info, 2, argv) || napi_get_value_bool(env, argv[1], &on) != napi_ok) return throw_type(env, "acceptLoopEarly(handle, on)");
  loop_listener_t *l = get_listener(env, argv[0]);
  if (l && !l->closed) l->early_on = on;
  return NULL;
}

/*
 * acceptLoopEarlySet(handle, srhIn, srhOut | null) -> [generation, replaced generation or 0]: the
 * onward header for SYNs whose routing header is exactly `srhIn` (null: the onward socket has none).
 */
static napi_value js_accept_loop_early_set(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  void *in = NULL, *out = NULL;
  size_t in_len = 0, out_len = 0;
  napi_valuetype t = napi_null;
  if (!get_args(env, info, 3, argv) || !get_buf(env, argv[1], &in, &in_len) || napi_typeof(env, argv[2], &t) != napi_ok ||
      (t != napi_null && !get_buf(env, argv[2], &out, &out_len)) || in_len == 0 || in_len > ACCEPT_SRH_MAX || out_len > ACCEPT_SRH_MAX)
    return throw_type(env, "acceptLoopEarlySet(handle, srhIn: Buffer, srhOut: Buffer | null)");
  loop_listener_t *l = get_listener(env, argv[0]);
  if (!l || l->closed) return throw_errno(env, "acceptLoopEarlySet", EBADF);
  if (!l->early && !(l->early = calloc(EARLY_SLOTS, sizeof *l->early))) return throw_errno(env, "calloc", ENOMEM);
  early_entry_t *e = &l->early[fnv1a(in, in_len) % EARLY_SLOTS];
  uint8_t *ci = malloc(in_len), *co = out_len ? malloc(out_len) : NULL;
  if (!ci || (out_len && !co)) {
    free(ci);
    free(co);
    return throw_errno(env, "malloc", ENOMEM);
  }
  memcpy(ci, in, in_len);
  if (out_len) memcpy(co, out, out_len);
  uint32_t replaced = e->gen;
  free(e->in);
  free(e->out);
  if (++l->early_gen == 0) l->early_gen = 1;
  *e = (early_entry_t){.gen = l->early_gen, .in_len = (uint16_t)in_len, .out_len = (uint16_t)out_len, .in = ci, .out = co};
  napi_value r, g, old;
  napi_create_array_with_length(env, 2, &r);
  napi_create_uint32(env, e->gen, &g);
  napi_create_uint32(env, replaced, &old);
  napi_set_element(env, r, 0, g);
  napi_set_element(env, r, 1, old);
  return r;
}

/* acceptLoopEarlyClear(handle): the table emptied (the functions changed). */
static napi_value js_accept_loop_early_clear(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 1, argv)) return throw_type(env, "acceptLoopEarlyClear(handle)");
  loop_listener_t *l = get_listener(env, argv[0]);
  if (l) early_free(l);
  return NULL;
}

void srv6pipes_register_accept_loop(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"acceptLoopListen", NULL, js_accept_loop_listen, NULL, NULL, NULL, napi_default, NULL},
      {"acceptLoopClose", NULL, js_accept_loop_close, NULL, NULL, NULL, napi_default, NULL},
      {"acceptLoopEarly", NULL, js_accept_loop_early, NULL, NULL, NULL, napi_default, NULL},
      {"acceptLoopEarlySet", NULL, js_accept_loop_early_set, NULL, NULL, NULL, napi_default, NULL},
      {"acceptLoopEarlyClear", NULL, js_accept_loop_early_clear, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}
