/* The TIME_WAIT release of the native relay (tw.h). Netlink is in host byte order; the tuple in
 * inet_diag_sockid is in network order, as the socket addresses already are. */
#define _GNU_SOURCE
#include "tw.h"
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif
#define TCP_TIME_WAIT_STATE 6

bool tw_key_read(int fd, tw_key_t *k) {
  socklen_t l = sizeof k->local, r = sizeof k->remote, c = sizeof k->cookie;
  memset(k, 0, sizeof *k);
  if (getsockname(fd, (struct sockaddr *)&k->local, &l) < 0 || k->local.sin6_family != AF_INET6) return false;
  if (getpeername(fd, (struct sockaddr *)&k->remote, &r) < 0 || k->remote.sin6_family != AF_INET6) return false;
  return getsockopt(fd, SOL_SOCKET, SO_COOKIE, k->cookie, &c) == 0 && c == sizeof k->cookie;
}

int tw_destroy(tw_diag_t *d, const tw_key_t *k, int *err) {
  *err = 0;
  if (d->broken) return TW_UNSUPPORTED;
  if (d->fd < 0) {
    d->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (d->fd < 0) {
      *err = errno;
      d->broken = true;
      return TW_UNSUPPORTED;
    }
  }
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  uint32_t seq = ++d->seq;
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DESTROY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  msg.nlh.nlmsg_seq = seq;
  msg.req.sdiag_family = AF_INET6;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = 1u << TCP_TIME_WAIT_STATE;
  msg.req.id.idiag_sport = k->local.sin6_port;
  msg.req.id.idiag_dport = k->remote.sin6_port;
  memcpy(msg.req.id.idiag_src, &k->local.sin6_addr, 16);
  memcpy(msg.req.id.idiag_dst, &k->remote.sin6_addr, 16);
  memcpy(msg.req.id.idiag_cookie, k->cookie, 8);
  /* the kernel handles SOCK_DESTROY inside the send: the acknowledgement is queued when it returns */
  if (send(d->fd, &msg, sizeof msg, MSG_DONTWAIT) < 0) {
    *err = errno;
    return TW_FAILED;
  }
  char rx[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
  for (;;) {
    ssize_t n = recv(d->fd, rx, sizeof rx, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *err = errno;
      return TW_FAILED;
    }
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rx; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq != seq || h->nlmsg_len < NLMSG_LENGTH(sizeof(int))) continue;
      int e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (e == 0) return TW_DESTROYED;
      if (e == ENOENT) return TW_ABSENT;
      *err = e;
      if (e == EOPNOTSUPP || e == EPERM) {
        d->broken = true;
        return TW_UNSUPPORTED;
      }
      return TW_FAILED;
    }
    /* an older reply (an earlier call's): read on */
  }
}

void tw_diag_close(tw_diag_t *d) {
  if (d->fd >= 0) close(d->fd);
  d->fd = -1;
}
