/*
 * The native relay's function ops (see relay-ops.h): the XOR kernel (also exported to JavaScript as
 * xorInPlace, the `xor` function's per-chunk kernel) and a token bucket per `ratelimit` op. The
 * relay thread alone touches a direction's ops, so nothing here locks.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include "napi-util.h"
#include "relay-ops.h"

enum { OP_XOR = 1, OP_RATELIMIT = 2 };
#define OP_FIELDS 3
#define MAX_OPS 64
#define MAX_PASSES 1024

typedef struct relay_op {
  int kind;
  uint8_t key;
  uint32_t passes;
  double rate, burst, tokens; /* bytes/s, bytes, bytes */
  int64_t last_ns;            /* the bucket's last refill */
} relay_op_t;

struct relay_ops {
  uint32_t n;
  bool changes;
  relay_op_t op[];
};

int64_t relay_ops_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One pass is a byte loop the compiler vectorises (-O3 here only; on x86-64 an AVX2 clone where the CPU
 * has it, on arm64 NEON, which every arm64 CPU has): it peels to alignment and finishes the tail
 * itself, so any length and alignment is right. */
#if defined(__x86_64__)
#define XOR_CLONES target_clones("avx2", "default"),
#else
#define XOR_CLONES
#endif
__attribute__((XOR_CLONES optimize("O3"))) static void xor_pass(uint8_t *restrict buf, size_t len, uint8_t key) {
  for (size_t i = 0; i < len; i++) buf[i] ^= key;
}

void srv6pipes_xor(uint8_t *buf, size_t len, uint8_t key, uint32_t passes) {
  for (uint32_t p = 0; p < passes; p++) {
    xor_pass(buf, len, key);
    __asm__ volatile("" : : "r"(buf) : "memory"); /* each pass is done: passes are never folded */
  }
}

bool relay_ops_parse(napi_env env, napi_value v, relay_ops_t **out, const char **why) {
  *out = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return (*why = "ops: not a value", false);
  if (t == napi_undefined || t == napi_null) return true;
  bool is_ta = false;
  napi_typedarray_type tt;
  size_t len = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &tt, &len, &data, NULL, NULL) != napi_ok || tt != napi_float64_array)
    return (*why = "ops: a Float64Array of [kind, a, b] records", false);
  if (len % OP_FIELDS != 0 || len / OP_FIELDS > MAX_OPS) return (*why = "ops: at most 64 records of 3 numbers", false);
  size_t n = len / OP_FIELDS;
  if (n == 0) return true;
  const double *x = data;
  relay_ops_t *o = calloc(1, sizeof *o + n * sizeof(relay_op_t));
  if (!o) return (*why = "ops: out of memory", false);
  o->n = (uint32_t)n;
  int64_t now = relay_ops_now_ns();
  for (size_t i = 0; i < n; i++) {
    const double *r = x + i * OP_FIELDS;
    relay_op_t *op = &o->op[i];
    if (r[0] == OP_XOR && r[1] >= 0 && r[1] <= 255 && r[1] == floor(r[1]) && r[2] >= 0 && r[2] <= MAX_PASSES && r[2] == floor(r[2])) {
      op->kind = OP_XOR;
      op->key = (uint8_t)r[1];
      op->passes = (uint32_t)r[2];
      if (op->passes > 0) o->changes = true;
    } else if (r[0] == OP_RATELIMIT && isfinite(r[1]) && r[1] > 0 && isfinite(r[2]) && r[2] >= 1) {
      op->kind = OP_RATELIMIT;
      op->rate = r[1];
      op->burst = r[2];
      op->tokens = r[2]; /* starts full, as the JavaScript limiter's bucket */
      op->last_ns = now;
    } else {
      free(o);
      return (*why = "ops: xor needs key 0..255 and passes 0..1024 (integers); ratelimit rate > 0 and burst >= 1", false);
    }
  }
  *out = o;
  return true;
}

void relay_ops_free(relay_ops_t *o) { free(o); }

bool relay_ops_changes_bytes(const relay_ops_t *o) { return o && o->changes; }

size_t relay_ops_allow(relay_ops_t *o, size_t len, int64_t *wake_ns) {
  if (!o) return len;
  size_t allow = len;
  int64_t now = 0, wake = 0;
  for (uint32_t i = 0; i < o->n; i++) {
    relay_op_t *op = &o->op[i];
    if (op->kind != OP_RATELIMIT) continue;
    if (!now) now = relay_ops_now_ns();
    op->tokens = fmin(op->burst, op->tokens + (double)(now - op->last_ns) * op->rate / 1e9);
    op->last_ns = now;
    /* below a page's worth (or the room/half the bucket, if smaller) wait for half a bucket rather than
     * read a few bytes per wakeup; above it, a small message does not wait for more tokens than it needs */
    double need = fmin((double)len, ceil(op->burst / 2));
    if (op->tokens < fmin(need, 4096)) {
      int64_t at = now + (int64_t)ceil((need - op->tokens) * 1e9 / op->rate);
      if (at > wake) wake = at;
      allow = 0;
    } else if ((double)allow > floor(op->tokens)) {
      allow = (size_t)floor(op->tokens);
    }
  }
  if (allow == 0) *wake_ns = wake;
  return allow;
}

void relay_ops_took(relay_ops_t *o, uint8_t *buf, size_t n) {
  if (!o) return;
  for (uint32_t i = 0; i < o->n; i++) {
    relay_op_t *op = &o->op[i];
    if (op->kind == OP_RATELIMIT)
      op->tokens -= (double)n;
    else if (op->kind == OP_XOR && buf)
      srv6pipes_xor(buf, n, op->key, op->passes);
  }
}

/* xorInPlace(buffer, key 0..255, passes 0..1024): the `xor` function's kernel for JavaScript */
static napi_value js_xor_in_place(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  void *data;
  size_t len;
  uint32_t key, passes;
  if (!get_args(env, info, 3, argv) || !get_buf(env, argv[0], &data, &len) || !get_u32(env, argv[1], &key) || !get_u32(env, argv[2], &passes) ||
      key > 255 || passes > MAX_PASSES)
    return throw_type(env, "xorInPlace(buffer, key 0..255, passes 0..1024)");
  srv6pipes_xor(data, len, (uint8_t)key, passes);
  return NULL;
}

void srv6pipes_register_relay_ops(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"xorInPlace", NULL, js_xor_in_place, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}
