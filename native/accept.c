/*
 * The native accept's per-connection reads (accept.h): the SYN's routing header and the connection's
 * addresses, as one record for JavaScript. The parsing mirrors src/native/saved-syn.ts and the cmsg
 * walk of src/native/sockets.ts (synRoutingHeader), whose typed errors JavaScript keeps.
 */
#define _GNU_SOURCE
#include "accept.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#ifndef TCP_SAVED_SYN
#define TCP_SAVED_SYN 28
#endif
#ifndef IPV6_2292PKTOPTIONS
#define IPV6_2292PKTOPTIONS 6
#endif

/* IPv6 header + the largest SRH + a TCP header with options, rounded up (as saved-syn.ts) */
#define SAVED_SYN_MAX 4096

int accept_srh_in_packet(const uint8_t *pkt, size_t len, uint8_t *out) {
  if (len < 40 || pkt[0] >> 4 != 6) return SRH_NOT_IPV6;
  unsigned next = pkt[6];
  size_t off = 40;
  for (int hops = 0; hops < 16; hops++) {
    if (next != 0 && next != IPPROTO_ROUTING && next != IPPROTO_FRAGMENT && next != IPPROTO_AH && next != IPPROTO_DSTOPTS) return SRH_NONE;
    if (off + 8 > len) return SRH_EXT_TRUNCATED;
    size_t l = next == IPPROTO_FRAGMENT ? 8 : next == IPPROTO_AH ? ((size_t)pkt[off + 1] + 2) * 4 : ((size_t)pkt[off + 1] + 1) * 8;
    if (off + l > len) return SRH_EXT_OVERRUN;
    if (next == IPPROTO_ROUTING) {
      if (l > ACCEPT_SRH_MAX) return SRH_EXT_OVERRUN; /* (255 + 1) * 8 = 2048: cannot happen */
      memcpy(out, pkt + off, l);
      return (int)l;
    }
    next = pkt[off];
    off += l;
  }
  return SRH_TOO_MANY;
}

/* The IPV6_RTHDR cmsg among the SYN's packet options (IPV6_RECVRTHDR on the listener). */
static int srh_in_options(int fd, uint8_t *out) {
  union {
    uint8_t b[4096];
    struct cmsghdr align;
  } opts;
  socklen_t olen = sizeof opts.b;
  if (getsockopt(fd, IPPROTO_IPV6, IPV6_2292PKTOPTIONS, opts.b, &olen) < 0) return SRH_UNREADABLE;
  struct msghdr m = {.msg_control = opts.b, .msg_controllen = olen};
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != IPPROTO_IPV6 || c->cmsg_type != IPV6_RTHDR) continue;
    size_t l = c->cmsg_len - CMSG_LEN(0);
    if (l > ACCEPT_SRH_MAX) l = ACCEPT_SRH_MAX;
    memcpy(out, CMSG_DATA(c), l);
    return (int)l;
  }
  return SRH_NONE;
}

int accept_srh(int fd, bool saved_syn, uint8_t *out) {
  if (saved_syn) {
    uint8_t pkt[SAVED_SYN_MAX];
    socklen_t len = sizeof pkt;
    /* read once (the kernel frees it); none saved (a SYN cookie): the packet options */
    if (getsockopt(fd, IPPROTO_TCP, TCP_SAVED_SYN, pkt, &len) == 0 && len > 0) return accept_srh_in_packet(pkt, len, out);
  }
  return srh_in_options(fd, out);
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)v);
  put16(p + 2, (uint16_t)(v >> 16));
}

/* An address as Node writes it (remoteAddress): inet_ntop, and `%zone` when it has a scope (link-local). */
static size_t address_text(const struct sockaddr_in6 *a, char *out) {
  if (!inet_ntop(AF_INET6, &a->sin6_addr, out, INET6_ADDRSTRLEN)) strcpy(out, "::");
  size_t n = strlen(out);
  if (a->sin6_scope_id != 0) {
    char name[IF_NAMESIZE];
    if (if_indextoname(a->sin6_scope_id, name))
      n += (size_t)snprintf(out + n, ACC_ADDR_MAX - n, "%%%s", name);
    else
      n += (size_t)snprintf(out + n, ACC_ADDR_MAX - n, "%%%u", a->sin6_scope_id);
  }
  return n < ACC_ADDR_MAX ? n : ACC_ADDR_MAX - 1;
}

size_t accept_record(uint8_t *rec, int fd, const void *client_sa6, bool saved_syn) {
  const struct sockaddr_in6 *c = client_sa6;
  struct sockaddr_in6 s = {0};
  socklen_t slen = sizeof s;
  getsockname(fd, (struct sockaddr *)&s, &slen);
  char ct[ACC_ADDR_MAX], st[ACC_ADDR_MAX];
  size_t cl = address_text(c, ct), sl = address_text(&s, st);
  uint8_t *p = rec + ACC_HEADER;
  memcpy(p, ct, cl);
  memcpy(p + cl, st, sl);
  int srh = accept_srh(fd, saved_syn, p + cl + sl);
  rec[0] = ACC_CONN;
  rec[1] = (uint8_t)cl;
  rec[2] = (uint8_t)sl;
  rec[3] = 0;
  put32(rec + 4, (uint32_t)fd);
  put16(rec + 8, ntohs(c->sin6_port));
  put16(rec + 10, ntohs(s.sin6_port));
  put16(rec + 12, (uint16_t)(int16_t)srh);
  put16(rec + 14, 0);
  put32(rec + 16, (uint32_t)-1);
  put32(rec + 20, 0);
  return ACC_HEADER + cl + sl + (srh > 0 ? (size_t)srh : 0);
}

size_t accept_error_record(uint8_t *rec, int err) {
  memset(rec, 0, ACC_HEADER);
  rec[0] = ACC_ERROR;
  put32(rec + 4, (uint32_t)err);
  put16(rec + 12, (uint16_t)(int16_t)SRH_NONE);
  put32(rec + 16, (uint32_t)-1);
  return ACC_HEADER;
}
