/*
 * The native accept's per-connection reads (native/accept.c): the SYN's routing header of an accepted
 * socket — from TCP_SAVED_SYN (a listener with TCP_SAVE_SYN, the sk_lookup interception) or from
 * IPV6_2292PKTOPTIONS (IPV6_RECVRTHDR) — and an accepted connection as one record for JavaScript.
 * Used by the relay thread (native/relay.c), which owns the intercept listener when config
 * nativeRelay.accept is on.
 */
#ifndef SRV6PIPES_ACCEPT_H
#define SRV6PIPES_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* what `accept_srh` found besides a header (a length >= 0): none, or why the saved SYN is malformed */
enum {
  SRH_NONE = -1,
  SRH_NOT_IPV6 = -2,       /* saved SYN: not an IPv6 header */
  SRH_EXT_TRUNCATED = -3,  /* saved SYN: an extension header is truncated */
  SRH_EXT_OVERRUN = -4,    /* saved SYN: an extension header runs past the packet */
  SRH_TOO_MANY = -5,       /* saved SYN: too many extension headers */
  SRH_UNREADABLE = -6,     /* the packet options could not be read (getsockopt failed) */
};

/*
 * accepted connections JavaScript has not decided yet, at most (both accept loops): Node accepts one
 * at a time and decides before the next; this bound keeps the descriptors held by undecided
 * connections within the reserve the flow cap leaves (src/proxy/rlimit.ts FD_RESERVE), so that a
 * worker at its descriptor limit refuses with NOFILE_LIMIT rather than failing an onward socket
 */
#define ACCEPT_AHEAD 16

/* the largest routing header (2048 + 8) */
#define ACCEPT_SRH_MAX 2056

/*
 * The routing header of the SYN `fd` was accepted from, copied to `out` (ACCEPT_SRH_MAX bytes): its
 * length, or SRH_*. `saved_syn`: try TCP_SAVED_SYN first (a SYN that replaced a TIME_WAIT keeps no
 * packet options, only its saved SYN), then the packet options.
 */
int accept_srh(int fd, bool saved_syn, uint8_t *out);

/* The routing header in an IPv6 packet's header chain (a saved SYN): its length copied to `out`, or SRH_*. */
int accept_srh_in_packet(const uint8_t *pkt, size_t len, uint8_t *out);

/*
 * An accepted connection's record (little-endian), as JavaScript reads it (src/native/relay.ts):
 *   u8 kind (ACC_CONN | ACC_ERROR), u8 client text length, u8 server text length, u8 0,
 *   i32 fd (ACC_ERROR: the errno), u16 client port, u16 server port, i16 SRH length or SRH_*, u16 0,
 *   i32 early onward descriptor or -1, u32 its early entry's generation or 0 (accept-loop.c),
 *   the client's address text, the server's (as Node's remoteAddress: `%zone` when scoped), the SRH bytes.
 */
enum { ACC_CONN = 0, ACC_ERROR = 1 };
#define ACC_HEADER 24
/* an address's text: INET6_ADDRSTRLEN, '%' and an interface name (IF_NAMESIZE) */
#define ACC_ADDR_MAX (46 + 1 + 16)
#define ACC_RECORD_MAX (ACC_HEADER + 2 * ACC_ADDR_MAX + ACCEPT_SRH_MAX)

/* Writes the record of accepted `fd` (peer `client`, local address read here) at `rec`; its length. */
size_t accept_record(uint8_t *rec, int fd, const void *client_sa6, bool saved_syn);
/* An accept error's record; its length. */
size_t accept_error_record(uint8_t *rec, int err);

#endif
