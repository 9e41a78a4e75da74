/*
 * The client-facing socket's TIME_WAIT, released from the native relay's thread (see
 * src/proxy/timewait.ts for why: under TPROXY interception a TIME_WAIT socket of the proxy drops the
 * client's next SYN from the same port until it expires). The relay reads the socket's tuple and
 * cookie when it adopts it; when it reads the client's FIN after it had sent its own (an active
 * close), it asks the kernel to destroy exactly that TIME_WAIT socket (SOCK_DESTROY over
 * NETLINK_SOCK_DIAG, tuple + cookie, as `ss -K` does).
 */
#ifndef SRV6PIPES_TW_H
#define SRV6PIPES_TW_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* results, as src/sys/sockdiag.ts names them (DestroyResult) */
enum { TW_DESTROYED = 0, TW_ABSENT = 1, TW_UNSUPPORTED = 2, TW_FAILED = 3 };

typedef struct tw_key {
  struct sockaddr_in6 local, remote;
  uint8_t cookie[8];
} tw_key_t;

typedef struct tw_diag {
  int fd; /* NETLINK_SOCK_DIAG, opened on first use; -1 */
  bool broken; /* the kernel or the process cannot: every later call says unsupported at once */
  uint32_t seq;
} tw_diag_t;

/* The tuple and cookie (SO_COOKIE generates it) of a connected TCP/IPv6 socket; false if unreadable. */
bool tw_key_read(int fd, tw_key_t *k);

/* SOCK_DESTROY for that TIME_WAIT socket: TW_* (errno in *err for TW_FAILED/TW_UNSUPPORTED). */
int tw_destroy(tw_diag_t *d, const tw_key_t *k, int *err);

void tw_diag_close(tw_diag_t *d);

#endif
