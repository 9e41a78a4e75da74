/*
 * Per-direction function ops of the native relay (native/relay-ops.c): what a flow's functions do
 * to each byte, run in the relay thread — `xor` (key, passes) on the bytes read, `ratelimit` (a token
 * bucket: rate bytes/s, burst bytes) on how much may be read. relay.c calls these from small hooks;
 * a direction without ops (a `copy` flow) has none (NULL) and pays nothing.
 */
#ifndef SRV6PIPES_RELAY_OPS_H
#define SRV6PIPES_RELAY_OPS_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct relay_ops relay_ops_t;

/* A Float64Array of records [kind, a, b] (kinds: 1 xor key passes, 2 ratelimit rate burst), or
 * undefined/null (no ops). Sets *out (NULL for none); false (a message in *why) when malformed. */
bool relay_ops_parse(napi_env env, napi_value v, relay_ops_t **out, const char **why);
void relay_ops_free(relay_ops_t *o);
/* a byte-changing op (xor): the bytes must pass through a buffer (no splice) */
bool relay_ops_changes_bytes(const relay_ops_t *o);
/* How many bytes (at most `len`) may be read now; 0: none until *wake_ns (CLOCK_MONOTONIC). */
size_t relay_ops_allow(relay_ops_t *o, size_t len, int64_t *wake_ns);
/* `n` bytes were read: the buckets pay for them, the byte ops run over `buf` (NULL when spliced). */
void relay_ops_took(relay_ops_t *o, uint8_t *buf, size_t n);
int64_t relay_ops_now_ns(void);
/* XOR `len` bytes with `key`, `passes` times (vectorised; any length and alignment) */
void srv6pipes_xor(uint8_t *buf, size_t len, uint8_t key, uint32_t passes);
/* exports xorInPlace(buffer, key, passes) */
void srv6pipes_register_relay_ops(napi_env env, napi_value exports);

#endif
