/*
 * bpf(2) wrappers for the sk_lookup interception mode (docs/security.md, "Interception and
 * TIME_WAIT"), plus a readable-fd watcher on the Node event loop (uv_poll) for netlink sockets.
 * Thin, like srv6pipes.c: the program's bytecode, the maps' layouts and every decision live in
 * TypeScript (src/native/bpf.ts). Every failure throws a JS Error whose `code` is the errno name;
 * a failed program load also carries the verifier's log as `log`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include "napi-util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

/* the verifier log buffer of a failed load (the log is read only when a load fails) */
#define VERIFIER_LOG_BYTES (1u << 20)


static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof *attr);
}

/* bpfMapCreate(type, keySize, valueSize, maxEntries, flags, name) -> fd (close-on-exec) */
static napi_value js_map_create(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  uint32_t type, ksz, vsz, max, flags;
  char name[BPF_OBJ_NAME_LEN] = {0};
  size_t nlen = 0;
  if (!get_args(env, info, 6, argv) || !get_u32(env, argv[0], &type) || !get_u32(env, argv[1], &ksz) ||
      !get_u32(env, argv[2], &vsz) || !get_u32(env, argv[3], &max) || !get_u32(env, argv[4], &flags) ||
      napi_get_value_string_utf8(env, argv[5], name, sizeof name, &nlen) != napi_ok)
    return throw_type(env, "bpfMapCreate(type, keySize, valueSize, maxEntries, flags, name): numbers and a string expected");
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_type = type;
  a.key_size = ksz;
  a.value_size = vsz;
  a.max_entries = max;
  a.map_flags = flags;
  memcpy(a.map_name, name, nlen < BPF_OBJ_NAME_LEN ? nlen : BPF_OBJ_NAME_LEN - 1);
  long fd = sys_bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) return throw_errno(env, "bpf(BPF_MAP_CREATE)", errno);
  return make_i32(env, (int32_t)fd);
}

/* bpfMapUpdate(fd, key, value, flags) */
static napi_value js_map_update(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  uint32_t flags;
  void *k, *v;
  size_t kl, vl;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &k, &kl) ||
      !get_buf(env, argv[2], &v, &vl) || !get_u32(env, argv[3], &flags))
    return throw_type(env, "bpfMapUpdate(fd, key: Buffer, value: Buffer, flags): expected");
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  a.value = (uint64_t)(uintptr_t)v;
  a.flags = flags;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a) < 0) return throw_errno(env, "bpf(BPF_MAP_UPDATE_ELEM)", errno);
  return NULL;
}

/* bpfMapDelete(fd, key) -> true, or false when the key was absent (ENOENT) */
static napi_value js_map_delete(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  void *k;
  size_t kl;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &k, &kl))
    return throw_type(env, "bpfMapDelete(fd, key: Buffer): expected");
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  napi_value r;
  if (sys_bpf(BPF_MAP_DELETE_ELEM, &a) < 0) {
    if (errno != ENOENT) return throw_errno(env, "bpf(BPF_MAP_DELETE_ELEM)", errno);
    napi_get_boolean(env, false, &r);
    return r;
  }
  napi_get_boolean(env, true, &r);
  return r;
}

/* bpfMapLookup(fd, key, valueSize) -> Buffer, or null when the key is absent (ENOENT) */
static napi_value js_map_lookup(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  uint32_t vsz;
  void *k;
  size_t kl;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &k, &kl) ||
      !get_u32(env, argv[2], &vsz) || vsz == 0 || vsz > 65536)
    return throw_type(env, "bpfMapLookup(fd, key: Buffer, valueSize 1..65536): expected");
  void *out;
  napi_value buf;
  napi_create_buffer(env, vsz, &out, &buf);
  memset(out, 0, vsz);
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (uint32_t)fd;
  a.key = (uint64_t)(uintptr_t)k;
  a.value = (uint64_t)(uintptr_t)out;
  if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0) {
    if (errno != ENOENT) return throw_errno(env, "bpf(BPF_MAP_LOOKUP_ELEM)", errno);
    napi_value n;
    napi_get_null(env, &n);
    return n;
  }
  return buf;
}

/* BPF_PROG_LOAD. The verifier gives up with EAGAIN whenever a signal is pending: under a profiler
 * (node --cpu-prof sends this thread SIGPROF every interval) a load longer than the interval never
 * finishes. The thread's signals are blocked for the load (delivered after it), and EAGAIN is still
 * retried, as libbpf does (5 attempts). */
static long prog_load(union bpf_attr *a) {
  sigset_t all, old;
  sigfillset(&all);
  int masked = pthread_sigmask(SIG_BLOCK, &all, &old) == 0;
  long fd;
  int attempts = 0;
  do fd = sys_bpf(BPF_PROG_LOAD, a);
  while (fd < 0 && errno == EAGAIN && ++attempts < 5);
  int err = errno;
  if (masked) pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = err;
  return fd;
}

/* bpfProgLoad(type, insns: Buffer (8 bytes each), license, expectedAttachType, name) -> fd.
 * Loaded without a log first; when that fails, loaded again with log_level 1 so that the thrown
 * error carries the verifier's explanation (`log`). */
static napi_value js_prog_load(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  uint32_t type, attach;
  void *insns;
  size_t ilen;
  char license[64] = {0}, name[BPF_OBJ_NAME_LEN] = {0};
  size_t llen = 0, nlen = 0;
  if (!get_args(env, info, 5, argv) || !get_u32(env, argv[0], &type) || !get_buf(env, argv[1], &insns, &ilen) ||
      napi_get_value_string_utf8(env, argv[2], license, sizeof license, &llen) != napi_ok ||
      !get_u32(env, argv[3], &attach) ||
      napi_get_value_string_utf8(env, argv[4], name, sizeof name, &nlen) != napi_ok || ilen == 0 || ilen % 8 != 0)
    return throw_type(env, "bpfProgLoad(type, insns: Buffer of 8-byte instructions, license, expectedAttachType, name): expected");
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = type;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = (uint32_t)(ilen / 8);
  a.license = (uint64_t)(uintptr_t)license;
  a.expected_attach_type = attach;
  memcpy(a.prog_name, name, nlen < BPF_OBJ_NAME_LEN ? nlen : BPF_OBJ_NAME_LEN - 1);
  long fd = prog_load(&a);
  if (fd >= 0) return make_i32(env, (int32_t)fd);
  int err = errno;
  char *log = calloc(1, VERIFIER_LOG_BYTES);
  if (log == NULL) return throw_errno(env, "bpf(BPF_PROG_LOAD)", err);
  a.log_level = 1;
  a.log_buf = (uint64_t)(uintptr_t)log;
  a.log_size = VERIFIER_LOG_BYTES;
  fd = prog_load(&a);
  if (fd >= 0) {
    /* loads with a log but not without one: should not happen; keep the program */
    free(log);
    return make_i32(env, (int32_t)fd);
  }
  log[VERIFIER_LOG_BYTES - 1] = 0;
  napi_value r = throw_errno_log(env, "bpf(BPF_PROG_LOAD)", err, log);
  free(log);
  return r;
}

/* bpfLinkCreate(progFd, targetFd, attachType, flags) -> link fd; the attachment lives as long as
 * the link fd is open (in any process). For BPF_SK_LOOKUP the target is a network namespace fd. */
static napi_value js_link_create(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t prog, target;
  uint32_t attach, flags;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &prog) || !get_i32(env, argv[1], &target) ||
      !get_u32(env, argv[2], &attach) || !get_u32(env, argv[3], &flags))
    return throw_type(env, "bpfLinkCreate(progFd, targetFd, attachType, flags): numbers expected");
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = (uint32_t)prog;
  a.link_create.target_fd = (uint32_t)target;
  a.link_create.attach_type = attach;
  a.link_create.flags = flags;
  long fd = sys_bpf(BPF_LINK_CREATE, &a);
  if (fd < 0) return throw_errno(env, "bpf(BPF_LINK_CREATE)", errno);
  return make_i32(env, (int32_t)fd);
}

/* ---- a readable-fd watcher on the event loop (netlink notification sockets) ---- */

#define MAX_WATCHERS 16

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context ctx;
  int id;
} watcher_t;

static watcher_t *watchers[MAX_WATCHERS];

static void watcher_free(uv_handle_t *h) {
  free(h->data);
}

static void on_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  watcher_t *w = p->data;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, arg, result;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv); /* napi_make_callback needs an object as the receiver */
  napi_create_int32(env, status, &arg);
  if (napi_make_callback(env, w->ctx, recv, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value ex;
    napi_get_and_clear_last_exception(env, &ex);
    napi_fatal_exception(env, ex);
  }
  napi_close_handle_scope(env, scope);
}

/* watchReadable(fd, callback(status)) -> id. The callback runs on the event loop each time the fd
 * is readable (status < 0: a poll error, as -errno). The watch does not keep the process alive. */
static napi_value js_watch_readable(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  napi_valuetype t;
  if (!get_args(env, info, 2, argv) || !get_i32(env, argv[0], &fd) || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function)
    return throw_type(env, "watchReadable(fd, callback): a number and a function expected");
  int id = -1;
  for (int i = 0; i < MAX_WATCHERS; i++)
    if (watchers[i] == NULL) {
      id = i;
      break;
    }
  if (id < 0) return throw_errno(env, "watchReadable", EMFILE);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_errno(env, "watchReadable", EINVAL);
  watcher_t *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_errno(env, "watchReadable", ENOMEM);
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r < 0) {
    free(w);
    return throw_errno(env, "uv_poll_init", -r);
  }
  w->poll.data = w;
  w->env = env;
  w->id = id;
  napi_value name;
  napi_create_string_utf8(env, "srv6pipes:watchReadable", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_async_init(env, NULL, name, &w->ctx);
  r = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (r < 0) {
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->ctx);
    uv_close((uv_handle_t *)&w->poll, watcher_free);
    return throw_errno(env, "uv_poll_start", -r);
  }
  uv_unref((uv_handle_t *)&w->poll);
  watchers[id] = w;
  return make_i32(env, id);
}

/* unwatch(id): stops a watcher (before closing its fd). Unknown ids are ignored. */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t id;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &id))
    return throw_type(env, "unwatch(id): a number expected");
  if (id < 0 || id >= MAX_WATCHERS || watchers[id] == NULL) return NULL;
  watcher_t *w = watchers[id];
  watchers[id] = NULL;
  uv_poll_stop(&w->poll);
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->ctx);
  uv_close((uv_handle_t *)&w->poll, watcher_free);
  return NULL;
}

static void bpf_const(napi_env env, napi_value obj, const char *name, int32_t v) {
  napi_set_named_property(env, obj, name, make_i32(env, v));
}

/* Registers the functions above and their constants (`bpfConstants`) on the addon's exports. */
void srv6pipes_register_bpf(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"bpfMapCreate", NULL, js_map_create, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapUpdate", NULL, js_map_update, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapDelete", NULL, js_map_delete, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapLookup", NULL, js_map_lookup, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProgLoad", NULL, js_prog_load, NULL, NULL, NULL, napi_default, NULL},
      {"bpfLinkCreate", NULL, js_link_create, NULL, NULL, NULL, napi_default, NULL},
      {"watchReadable", NULL, js_watch_readable, NULL, NULL, NULL, napi_default, NULL},
      {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value c;
  napi_create_object(env, &c);
  bpf_const(env, c, "BPF_MAP_TYPE_SOCKMAP", BPF_MAP_TYPE_SOCKMAP);
  bpf_const(env, c, "BPF_MAP_TYPE_LPM_TRIE", BPF_MAP_TYPE_LPM_TRIE);
  bpf_const(env, c, "BPF_F_NO_PREALLOC", BPF_F_NO_PREALLOC);
  bpf_const(env, c, "BPF_ANY", BPF_ANY);
  bpf_const(env, c, "BPF_PROG_TYPE_SK_LOOKUP", BPF_PROG_TYPE_SK_LOOKUP);
  bpf_const(env, c, "BPF_SK_LOOKUP", BPF_SK_LOOKUP);
  napi_set_named_property(env, exports, "bpfConstants", c);
}
