/*
 * srv6pipes native layer: the few socket syscalls Node.js does not expose.
 * Deliberately generic and thin: socket(), setsockopt(), getsockopt(), bind(),
 * listen(), close(), and for packet sockets (the lab's link emulator) if_nametoindex(),
 * bind() to an interface, recv(), send() and ppoll() (also used on generic netlink sockets: the
 * MPTCP userspace path manager), plus the constants they need. Everything else (SRH codec,
 * cmsg parsing, listener and outbound-socket composition) lives in TypeScript.
 * Every failure throws a JS Error whose `code` is the errno name (e.g. EADDRINUSE), except
 * recv() and send(), per-packet calls that return -errno instead (no exception per EAGAIN).
 * Also getrlimit/setrlimit for RLIMIT_NOFILE (Node has no setrlimit): the proxy sizes its descriptors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include "napi-util.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

#include <linux/netlink.h>
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef MPTCP_INFO
#define MPTCP_INFO 1
#endif
#ifndef MPTCP_TCPINFO
#define MPTCP_TCPINFO 2
#endif
#ifndef MPTCP_SUBFLOW_ADDRS
#define MPTCP_SUBFLOW_ADDRS 3
#endif

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define MAX_POLL_FDS 64


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

/* getsockoptBuffer(fd, level, name, maxLength[, input]) -> Buffer of the returned length.
 * `input` is copied in first, for the options that read a request from the buffer (SOL_MPTCP
 * MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS); the rest of the buffer is zero. */
static napi_value js_getsockopt_buf(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, level, name, maxlen;
  if (!get_args(env, info, 4, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &level) ||
      !get_i32(env, argv[2], &name) || !get_i32(env, argv[3], &maxlen) || maxlen < 0 || maxlen > 65536)
    return throw_type(env, "getsockoptBuffer(fd, level, name, maxLength 0..65536[, input]): numbers expected");
  void *in = NULL;
  size_t inlen = 0;
  napi_valuetype t;
  napi_typeof(env, argv[4], &t);
  if (t != napi_undefined) {
    bool isbuf = false;
    napi_is_buffer(env, argv[4], &isbuf);
    if (!isbuf || napi_get_buffer_info(env, argv[4], &in, &inlen) != napi_ok || inlen > (size_t)maxlen)
      return throw_type(env, "getsockoptBuffer: input must be a Buffer no longer than maxLength");
  }
  char stackbuf[4096];
  char *buf = maxlen <= (int32_t)sizeof stackbuf ? stackbuf : malloc((size_t)maxlen);
  if (buf == NULL) return throw_errno(env, "malloc", ENOMEM);
  memset(buf, 0, (size_t)maxlen);
  if (inlen > 0) memcpy(buf, in, inlen);
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

/* connect6(fd, address, port) -> 0 connected, 1 in progress (the socket is non-blocking: its completion is
 * EPOLLOUT then SO_ERROR, as the native relay reads it); any other failure throws (code: the errno name) */
static napi_value js_connect6(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, port;
  void *addr;
  size_t alen = 0;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_buf(env, argv[1], &addr, &alen) ||
      !get_i32(env, argv[2], &port) || alen != 16 || port < 1 || port > 65535)
    return throw_type(env, "connect6(fd, address: 16-byte Buffer, port 1..65535)");
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons((uint16_t)port);
  memcpy(&sa.sin6_addr, addr, 16);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) return make_i32(env, 0);
  if (errno == EINPROGRESS) return make_i32(env, 1);
  return throw_errno(env, "connect", errno);
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


/* ifIndex(name) -> the interface index in this network namespace (if_nametoindex). */
static napi_value js_if_index(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  char name[IF_NAMESIZE + 1];
  size_t len = 0;
  if (!get_args(env, info, 1, argv) ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok)
    return throw_type(env, "ifIndex(name): a string expected");
  unsigned idx = if_nametoindex(name);
  if (idx == 0) return throw_errno(env, "if_nametoindex", errno);
  return make_i32(env, (int32_t)idx);
}

/* bindPacket(fd, ifindex, protocol): bind an AF_PACKET socket to one interface; protocol in host order
 * (e.g. ETH_P_ALL), converted here. */
static napi_value js_bind_packet(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, ifindex, proto;
  if (!get_args(env, info, 3, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[1], &ifindex) ||
      !get_i32(env, argv[2], &proto) || proto < 0 || proto > 0xffff)
    return throw_type(env, "bindPacket(fd, ifindex, protocol 0..65535): numbers expected");
  struct sockaddr_ll sa;
  memset(&sa, 0, sizeof sa);
  sa.sll_family = AF_PACKET;
  sa.sll_protocol = htons((uint16_t)proto);
  sa.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return throw_errno(env, "bind", errno);
  return NULL;
}

/* Checks (buffer, offset, length) and returns the start of the range, or NULL after throwing. */
static char *buffer_range(napi_env env, napi_value buf, napi_value off, napi_value len, size_t *out_len) {
  bool is_buf = false;
  void *data;
  size_t blen;
  int32_t o, l;
  napi_is_buffer(env, buf, &is_buf);
  if (!is_buf || !get_i32(env, off, &o) || !get_i32(env, len, &l)) {
    throw_type(env, "(fd, buffer, offset, length, flags): a Buffer and numbers expected");
    return NULL;
  }
  napi_get_buffer_info(env, buf, &data, &blen);
  if (o < 0 || l < 0 || (size_t)o + (size_t)l > blen) {
    throw_type(env, "offset and length must lie inside the buffer");
    return NULL;
  }
  *out_len = (size_t)l;
  return (char *)data + o;
}

/* recv(fd, buffer, offset, length, flags) -> bytes (with MSG_TRUNC on a packet socket: the frame's real
 * length, which may exceed `length`), or -errno (e.g. -EAGAIN). Never throws on a failed call. */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, flags;
  size_t len;
  if (!get_args(env, info, 5, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[4], &flags))
    return throw_type(env, "recv(fd, buffer, offset, length, flags): numbers expected");
  char *p = buffer_range(env, argv[1], argv[2], argv[3], &len);
  if (p == NULL) return NULL;
  ssize_t n = recv(fd, p, len, flags);
  return make_i32(env, n < 0 ? -errno : (int32_t)n);
}

/* send(fd, buffer, offset, length, flags) -> bytes, or -errno (e.g. -EAGAIN, -ENOBUFS). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd, flags;
  size_t len;
  if (!get_args(env, info, 5, argv) || !get_i32(env, argv[0], &fd) || !get_i32(env, argv[4], &flags))
    return throw_type(env, "send(fd, buffer, offset, length, flags): numbers expected");
  char *p = buffer_range(env, argv[1], argv[2], argv[3], &len);
  if (p == NULL) return NULL;
  ssize_t n = send(fd, p, len, flags);
  return make_i32(env, n < 0 ? -errno : (int32_t)n);
}

/* poll(fds: Int32Array, events: Int32Array, revents: Int32Array, timeoutUs) -> number of ready fds.
 * ppoll with a microsecond timeout (< 0: wait indefinitely); EINTR counts as 0 ready. */
static napi_value js_poll(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  double timeout_us;
  napi_typedarray_type t[3];
  size_t n[3];
  void *data[3];
  if (!get_args(env, info, 4, argv) || napi_get_value_double(env, argv[3], &timeout_us) != napi_ok)
    return throw_type(env, "poll(fds, events, revents, timeoutUs): Int32Arrays and a number expected");
  for (int i = 0; i < 3; i++) {
    bool is_ta = false;
    napi_is_typedarray(env, argv[i], &is_ta);
    if (!is_ta) return throw_type(env, "poll: fds, events and revents must be Int32Arrays");
    napi_get_typedarray_info(env, argv[i], &t[i], &n[i], &data[i], NULL, NULL);
    if (t[i] != napi_int32_array) return throw_type(env, "poll: fds, events and revents must be Int32Arrays");
  }
  if (n[1] != n[0] || n[2] != n[0] || n[0] > MAX_POLL_FDS) return throw_type(env, "poll: arrays of one length, at most 64");
  struct pollfd pfd[MAX_POLL_FDS];
  const int32_t *fds = data[0], *ev = data[1];
  int32_t *rev = data[2];
  for (size_t i = 0; i < n[0]; i++) {
    pfd[i].fd = fds[i];
    pfd[i].events = (short)ev[i];
    pfd[i].revents = 0;
  }
  struct timespec ts, *tsp = NULL;
  if (timeout_us >= 0) {
    ts.tv_sec = (time_t)(timeout_us / 1e6);
    ts.tv_nsec = (long)((timeout_us - (double)ts.tv_sec * 1e6) * 1e3);
    tsp = &ts;
  }
  int r = ppoll(pfd, (nfds_t)n[0], tsp, NULL);
  if (r < 0 && errno != EINTR) return throw_errno(env, "ppoll", errno);
  for (size_t i = 0; i < n[0]; i++) rev[i] = r < 0 ? 0 : pfd[i].revents;
  return make_i32(env, r < 0 ? 0 : r);
}

/* getNofile() -> [soft, hard] of RLIMIT_NOFILE (RLIM_INFINITY as -1). */
static napi_value js_get_nofile(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return throw_errno(env, "getrlimit", errno);
  napi_value arr;
  napi_create_array_with_length(env, 2, &arr);
  napi_value v;
  napi_create_double(env, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur, &v);
  napi_set_element(env, arr, 0, v);
  napi_create_double(env, rl.rlim_max == RLIM_INFINITY ? -1 : (double)rl.rlim_max, &v);
  napi_set_element(env, arr, 1, v);
  return arr;
}

/* setNofile(soft, hard): setrlimit(RLIMIT_NOFILE), -1 = unlimited; raising hard needs CAP_SYS_RESOURCE. */
static napi_value js_set_nofile(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  double soft, hard;
  if (!get_args(env, info, 2, argv) || napi_get_value_double(env, argv[0], &soft) != napi_ok ||
      napi_get_value_double(env, argv[1], &hard) != napi_ok || (hard >= 0 && (soft < 0 || hard < soft)))
    return throw_type(env, "setNofile(soft, hard): numbers soft <= hard expected (-1: unlimited)");
  struct rlimit rl = {soft < 0 ? RLIM_INFINITY : (rlim_t)soft, hard < 0 ? RLIM_INFINITY : (rlim_t)hard};
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) return throw_errno(env, "setrlimit", errno);
  return NULL;
}

static void set_const(napi_env env, napi_value obj, const char *name, int32_t v) {
  napi_set_named_property(env, obj, name, make_i32(env, v));
}

void srv6pipes_register_bpf(napi_env env, napi_value exports); /* native/bpf.c */
void srv6pipes_register_relay(napi_env env, napi_value exports); /* native/relay.c */
void srv6pipes_register_accept_loop(napi_env env, napi_value exports); /* native/accept-loop.c */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL},
      {"setsockoptInt", NULL, js_setsockopt_int, NULL, NULL, NULL, napi_default, NULL},
      {"setsockoptBuffer", NULL, js_setsockopt_buf, NULL, NULL, NULL, napi_default, NULL},
      {"getsockoptInt", NULL, js_getsockopt_int, NULL, NULL, NULL, napi_default, NULL},
      {"getsockoptBuffer", NULL, js_getsockopt_buf, NULL, NULL, NULL, napi_default, NULL},
      {"bind6", NULL, js_bind6, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"connect6", NULL, js_connect6, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"ifIndex", NULL, js_if_index, NULL, NULL, NULL, napi_default, NULL},
      {"bindPacket", NULL, js_bind_packet, NULL, NULL, NULL, napi_default, NULL},
      {"recv", NULL, js_recv, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"poll", NULL, js_poll, NULL, NULL, NULL, napi_default, NULL},
      {"getNofile", NULL, js_get_nofile, NULL, NULL, NULL, napi_default, NULL},
      {"setNofile", NULL, js_set_nofile, NULL, NULL, NULL, napi_default, NULL},
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
  set_const(env, c, "AF_PACKET", AF_PACKET);
  set_const(env, c, "SOCK_RAW", SOCK_RAW);
  set_const(env, c, "ETH_P_ALL", ETH_P_ALL);
  set_const(env, c, "SOL_PACKET", SOL_PACKET);
  set_const(env, c, "PACKET_IGNORE_OUTGOING", PACKET_IGNORE_OUTGOING);
  set_const(env, c, "PACKET_STATISTICS", PACKET_STATISTICS);
  set_const(env, c, "PACKET_VNET_HDR", PACKET_VNET_HDR);
  set_const(env, c, "SO_RCVBUF", SO_RCVBUF);
  set_const(env, c, "SO_SNDBUF", SO_SNDBUF);
  set_const(env, c, "SO_RCVBUFFORCE", SO_RCVBUFFORCE);
  set_const(env, c, "SO_SNDBUFFORCE", SO_SNDBUFFORCE);
  set_const(env, c, "MSG_TRUNC", MSG_TRUNC);
  set_const(env, c, "MSG_DONTWAIT", MSG_DONTWAIT);
  set_const(env, c, "POLLIN", POLLIN);
  set_const(env, c, "POLLOUT", POLLOUT);
  set_const(env, c, "POLLERR", POLLERR);
  set_const(env, c, "EAGAIN", EAGAIN);
  set_const(env, c, "ENOBUFS", ENOBUFS);
  set_const(env, c, "EINTR", EINTR);
  set_const(env, c, "AF_NETLINK", AF_NETLINK);
  set_const(env, c, "NETLINK_GENERIC", NETLINK_GENERIC);
  set_const(env, c, "SOL_MPTCP", SOL_MPTCP);
  set_const(env, c, "MPTCP_INFO", MPTCP_INFO);
  set_const(env, c, "MPTCP_TCPINFO", MPTCP_TCPINFO);
  set_const(env, c, "MPTCP_SUBFLOW_ADDRS", MPTCP_SUBFLOW_ADDRS);
  napi_set_named_property(env, exports, "constants", c);
  srv6pipes_register_bpf(env, exports);
  srv6pipes_register_relay(env, exports);
  srv6pipes_register_accept_loop(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
