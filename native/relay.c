/*
 * The native relay: one thread (epoll, edge-triggered) that moves the bytes of socket pairs without
 * JavaScript per byte. JavaScript hands it two connected TCP descriptors (it dups them and may then
 * close its own); per direction the thread either splice()s socket -> pipe -> socket (a pipe per
 * direction, its size set with F_SETPIPE_SZ: that bound is the back-pressure) or recv()s/send()s
 * through a buffer of the same bound. A FIN read on one side becomes shutdown(SHUT_WR) on the other
 * once the bytes before it are out (half-close); an error or reset on one side resets the other
 * (SO_LINGER 0 + close); both directions ended is a clean end (SO_LINGER back off, close).
 * Events go back to JavaScript in batches through a threadsafe function: a Float64Array of records
 * [pairId, kind, arg, errno, bytesAtoB, bytesBtoA] (kinds below); byte counts at most every
 * `reportMs`, always with an EOF, reset or done. Counters and the idle time are also readable at
 * any time (relayStats), and a pair can be aborted (relayAbort: both sides reset). A direction may
 * carry function ops (relay-ops.c: xor, a rate limit), run here through a few `ops_*` hooks.
 * The thread may also own listening sockets (relayListen: config nativeRelay.accept): it accepts
 * their connections itself (accept4, TCP_NODELAY, the SYN's routing header and both addresses read
 * here, accept.c) and posts each as a record of bytes with the batch; JavaScript decides and answers
 * with relayAcceptConnect (the onward socket made, bound, connected and the pair added: one call) or
 * fdReset (a RST). Accept errors are records too; EMFILE & co. pause that listener for ACCEPT_PAUSE_MS.
 * Composed in TypeScript by src/native/relay.ts.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "accept.h"
#include "napi-util.h"
#include "relay-ops.h"
#include "tw.h"

/* auto: recv/send while reads are small, splice from a read of BULK bytes on (switching only with nothing in flight) */
enum { MODE_SPLICE = 0, MODE_COPY = 1, MODE_AUTO = 2 };
#define BULK (32u * 1024)
/* record kinds; arg: BYTES -, EOF the direction (0: a->b, 1: b->a), RESET the side that failed (0 a, 1 b), DONE how (below) */
/* TIMEWAIT (tw.h): arg the result (TW_*), errno; the pair id is the pair that asked, which may be done by then */
enum { EV_BYTES = 0, EV_EOF = 1, EV_RESET = 2, EV_DONE = 3, EV_TIMEWAIT = 4 };
/* a pair added `connecting`: side b's connect completed (a failed connect is a RESET of side b) */
enum { EV_CONNECTED = 5 };
enum { DONE_OK = 0, DONE_RESET = 1, DONE_ABORTED = 2, DONE_CLOSED = 3 };
#define REC_FIELDS 6
#define MAX_SLOTS (1u << 20)
#define PUMP_BUDGET (1u << 20) /* bytes per pair per turn before the others get theirs */

struct pair;

typedef struct dir {
  int in, out;       /* descriptors (the pair's own dups) */
  int pipe_r, pipe_w; /* splice mode */
  char *buf;         /* copy mode: allocated while bytes are in flight */
  size_t off;        /* copy mode: first unsent byte in buf */
  size_t queued;     /* bytes taken from `in`, not yet written to `out` */
  bool readable, writable, eof, done;
  bool hup; /* the peer's FIN (EPOLLRDHUP) was signalled: read on until EOF */
  bool spl;  /* the bytes in flight are in the pipe (else in buf) */
  bool bulk; /* the last read was at least BULK bytes (auto mode) */
  uint64_t bytes; /* written to `out`; read by JavaScript under the relay's lock */
  relay_ops_t *ops; /* the flow's functions' ops (relay-ops.h); NULL: a copy */
  size_t allow, asked; /* ops: bytes the next read may take; the last read's length */
} dir_t;

typedef struct side {
  struct pair *p;
  int idx;
} side_t;

typedef struct pair {
  uint32_t id, slot;
  int fd[2];
  side_t side[2];
  dir_t d[2];
  int64_t last_ms; /* last byte moved (CLOCK_MONOTONIC_COARSE, ms) */
  bool dead, dirty, on_ready, abortive;
  tw_key_t *tw; /* side a's tuple and cookie: release its TIME_WAIT after an active close (tw.h); NULL: not asked */
  bool connecting; /* side b's non-blocking connect is under way: nothing is relayed yet */
  uint64_t reported[2];
  struct pair *next_ready, *next_dead;
  int64_t wake_ns; /* ops: a rate-limited direction reads again then */
  bool waiting;
  struct pair *next_waiting;
} pair_t;

typedef struct batch {
  size_t n, cap;
  double *rec;
  /* accepted connections' records (accept.h), in bytes */
  uint8_t *acc;
  size_t acc_n, acc_cap;
  /* a record that must reach JavaScript now (not only byte counts or a connect's completion, which wait for the period or the next such record) */
  bool urgent;
} batch_t;

/* accepts per listener per turn (level-triggered: the rest comes on the next turn) */
#define ACCEPT_BATCH 64
/* accepted connections not yet handed to JavaScript, at most (accept.h) */
#define ACCEPT_INFLIGHT ACCEPT_AHEAD
/* a listener out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) stops accepting this long (the SYNs wait in its queue) */
#define ACCEPT_PAUSE_MS 100

/* A listening socket the thread accepts on (relayListen). `tag.p` is NULL: epoll's data is a listener, not a pair's side. */
typedef struct listener {
  struct side_tag { void *p; int idx; } tag;
  int fd;
  bool saved_syn, paused, throttled;
  int64_t resume_ms;
  struct listener *next;
} listener_t;

typedef struct relay {
  napi_env env;
  napi_threadsafe_function tsfn;
  pthread_t thread;
  bool running;
  int ep, evfd, mode;
  size_t cap;
  int report_ms;
  pthread_mutex_t mu; /* guards slots, pairs' counters as read by JavaScript, the command queue */
  pair_t **slots;
  uint32_t *free_slots; /* a stack of the empty slots (capacity nslots) */
  uint32_t nslots, nfree, gen;
  /* pairs to start relaying, pair ids to abort, listeners to start (listen) or stop (unlisten: fd + 1) */
  struct cmd { pair_t *add; uint32_t abort_id; listener_t *listen; int unlisten; } *cmds;
  size_t ncmds, capcmds;
  bool stop;
  uint32_t live; /* JavaScript thread only: pairs not yet reported done (the tsfn is ref'd while live + listening > 0) */
  uint32_t listening; /* JavaScript thread only: listeners given and not taken back */
  listener_t *listeners, *dead_listeners; /* the thread's */
  uint32_t acc_inflight; /* accepted, not yet handed to JavaScript's callback (atomic) */
  bool acc_throttled;    /* a listener waits for acc_inflight to drop: JavaScript wakes the thread (atomic) */
  pair_t *ready, *dead;
  pair_t *waiting; /* pairs with a rate-limited direction waiting for tokens (ops_may_read, ops_wake) */
  batch_t batch;
  int64_t last_flush;
  tw_diag_t diag;
  /* TIME_WAIT releases to try again (the kernel makes the TIME_WAIT socket on the last ACK when both FINs crossed) */
  struct tw_retry { tw_key_t key; uint32_t id; int tries; int64_t due; } *tw_retries;
  size_t ntw, captw;
} relay_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next record of the batch, or NULL when out of memory. */
static double *batch_slot(relay_t *r) {
  batch_t *b = &r->batch;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    double *rec = realloc(b->rec, cap * REC_FIELDS * sizeof(double));
    if (!rec) return NULL;
    b->rec = rec;
    b->cap = cap;
  }
  return b->rec + b->n++ * REC_FIELDS;
}

static void emit(relay_t *r, pair_t *p, int kind, int arg, int err) {
  double *x = batch_slot(r);
  if (!x) return; /* out of memory: the counters stay readable through relayStats */
  x[0] = p->id;
  x[1] = kind;
  x[2] = arg;
  x[3] = err;
  x[4] = (double)p->d[0].bytes;
  x[5] = (double)p->d[1].bytes;
  p->reported[0] = p->d[0].bytes;
  p->reported[1] = p->d[1].bytes;
  p->dirty = false;
  /* a connect's completion only stops JavaScript's connect timer, and an EOF only marks a direction ended
   * (the flow's record, `flows`): both ride with the next urgent record (the pair's end, a reset) or the
   * report period — one wake of the JavaScript thread fewer per connection for each */
  if (kind != EV_BYTES && kind != EV_CONNECTED && kind != EV_EOF) r->batch.urgent = true;
}

static void set_linger(int fd, int on) {
  struct linger l = {.l_onoff = on, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static void free_dir(dir_t *d) {
  if (d->pipe_r >= 0) close(d->pipe_r);
  if (d->pipe_w >= 0) close(d->pipe_w);
  d->pipe_r = d->pipe_w = -1;
  free(d->buf);
  d->buf = NULL;
  relay_ops_free(d->ops);
  d->ops = NULL;
}

/* Ends a pair: closes its descriptors (a reset when `reset_both`/the abortive default says so). */
static void finish(relay_t *r, pair_t *p, int how, bool reset) {
  if (p->dead) return;
  p->dead = true;
  for (int i = 0; i < 2; i++) {
    epoll_ctl(r->ep, EPOLL_CTL_DEL, p->fd[i], NULL);
    /* a clean end closes orderly; anything else sends a RST so a truncated stream never looks complete */
    set_linger(p->fd[i], reset ? 1 : 0);
    close(p->fd[i]);
    free_dir(&p->d[i]);
  }
  emit(r, p, EV_DONE, how, 0);
  pthread_mutex_lock(&r->mu);
  r->slots[p->slot] = NULL;
  r->free_slots[r->nfree++] = p->slot;
  pthread_mutex_unlock(&r->mu);
  p->next_dead = r->dead;
  r->dead = p;
}

/* Side `bad` failed (a reset, an error): the other side is reset too. */
static void fail(relay_t *r, pair_t *p, int bad, int err) {
  if (p->dead) return;
  emit(r, p, EV_RESET, bad, err);
  finish(r, p, DONE_RESET, true);
}

/* ops: the next read's length, within what the direction's rate limits allow (ops_may_read). */
static size_t ops_len(dir_t *d, size_t len) {
  return d->ops && d->allow < len ? d->allow : len;
}

/* ops: whether the direction may read now; if its buckets are empty, the pair waits (no read) until they refill. */
static bool ops_may_read(relay_t *r, pair_t *p, dir_t *d) {
  if (!d->ops) return true;
  int64_t wake = 0;
  d->allow = relay_ops_allow(d->ops, d->spl ? r->cap - d->queued : r->cap, &wake);
  if (d->allow > 0) return true;
  if (!p->waiting) {
    p->waiting = true;
    p->wake_ns = wake;
    p->next_waiting = r->waiting;
    r->waiting = p;
  } else if (wake < p->wake_ns) {
    p->wake_ns = wake;
  }
  return false;
}

/* Takes bytes from d->in into the pipe/buffer: >0 bytes, 0 EOF, -errno. */
static ssize_t fill(relay_t *r, dir_t *d) {
  ssize_t n;
  d->asked = ops_len(d, d->spl ? r->cap - d->queued : r->cap);
  if (d->spl) {
    n = splice(d->in, NULL, d->pipe_w, NULL, d->asked, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  } else {
    if (!d->buf && !(d->buf = malloc(r->cap))) return -ENOMEM;
    d->off = 0;
    n = recv(d->in, d->buf, d->asked, MSG_DONTWAIT);
  }
  if (n < 0) return -errno;
  if (n > 0 && d->ops) relay_ops_took(d->ops, d->spl ? NULL : (uint8_t *)d->buf, (size_t)n);
  d->bulk = (size_t)n >= BULK;
  return n;
}

/* Writes queued bytes to d->out: >0 bytes, -errno. */
static ssize_t drain(relay_t *r, dir_t *d) {
  ssize_t n;
  if (d->spl)
    n = splice(d->pipe_r, NULL, d->out, NULL, d->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  else
    n = send(d->out, d->buf + d->off, d->queued, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) return -errno;
  if (!d->spl) d->off += (size_t)n;
  return n;
}

/* TIME_WAIT releases (tw.h): retried after these delays (ms) while the kernel has not made the socket yet */
static const int TW_RETRY_MS[] = {2, 10, 50, 200, 1000};
#define TW_RETRIES ((int)(sizeof TW_RETRY_MS / sizeof TW_RETRY_MS[0]))
#define TW_RETRIES_MAX 65536 /* pending retries kept at most: beyond, a release is tried once */

static void emit_tw(relay_t *r, uint32_t id, int result, int err) {
  double *x = batch_slot(r);
  if (!x) return;
  x[0] = id;
  x[1] = EV_TIMEWAIT;
  x[2] = result;
  x[3] = err;
  x[4] = x[5] = 0;
  r->batch.urgent = true;
}

/* Queues a retry; false when out of memory or the queue is full. */
static bool tw_queue(relay_t *r, struct tw_retry t) {
  if (r->ntw >= TW_RETRIES_MAX) return false;
  if (r->ntw == r->captw) {
    size_t n = r->captw ? r->captw * 2 : 16;
    struct tw_retry *m = realloc(r->tw_retries, n * sizeof *m);
    if (!m) return false;
    r->tw_retries = m;
    r->captw = n;
  }
  r->tw_retries[r->ntw++] = t;
  return true;
}

/* Tries to destroy the TIME_WAIT socket of `k` (attempt `tries`): reported, or queued to try again. */
static void tw_release(relay_t *r, const tw_key_t *k, uint32_t id, int tries) {
  int err = 0;
  int result = tw_destroy(&r->diag, k, &err);
  if (result == TW_ABSENT && tries < TW_RETRIES &&
      tw_queue(r, (struct tw_retry){.key = *k, .id = id, .tries = tries + 1, .due = now_ms() + TW_RETRY_MS[tries]}))
    return;
  emit_tw(r, id, result, err);
}

/* epoll_wait's timeout: `fallback`, or less when a retry is due sooner. */
static int tw_timeout(relay_t *r, int fallback) {
  if (r->ntw == 0) return fallback;
  int64_t now = now_ms(), next = INT64_MAX;
  for (size_t i = 0; i < r->ntw; i++)
    if (r->tw_retries[i].due < next) next = r->tw_retries[i].due;
  int64_t wait = next - now;
  /* CLOCK_MONOTONIC_COARSE ticks in jiffies: wait at least 1 ms so a due retry is not spun on */
  return wait < 1 ? 1 : wait < fallback ? (int)wait : fallback;
}

static void tw_retry_due(relay_t *r) {
  if (r->ntw == 0) return;
  int64_t now = now_ms();
  /* the queue is taken out and rebuilt: what is not due goes back, what is due is tried (and may queue again) */
  struct tw_retry *all = r->tw_retries;
  size_t n = r->ntw;
  r->tw_retries = NULL;
  r->ntw = r->captw = 0;
  for (size_t i = 0; i < n; i++) {
    if (all[i].due > now && tw_queue(r, all[i])) continue;
    tw_release(r, &all[i].key, all[i].id, all[i].tries);
  }
  free(all);
}

static int new_pipe(relay_t *r, dir_t *d) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return errno;
  d->pipe_r = fds[0];
  d->pipe_w = fds[1];
  /* refused (over fs.pipe-max-size or the user's pipe pages): a smaller pipe only means shorter splices */
  (void)fcntl(fds[1], F_SETPIPE_SZ, (int)r->cap);
  return 0;
}

/* Moves one direction until it would block or has used `*budget`; false when the pair ended. */
static bool pump_dir(relay_t *r, pair_t *p, int di, size_t *budget) {
  dir_t *d = &p->d[di];
  int in_side = di, out_side = 1 - di;
  while (!d->done && *budget > 0) {
    bool progress = false;
    /* nothing in flight: pick the way (auto: by the last read's size) */
    if (d->queued == 0) {
      /* a direction whose ops change bytes never splices (relay-ops.h) */
      d->spl = (r->mode == MODE_SPLICE || (r->mode == MODE_AUTO && d->bulk)) && !relay_ops_changes_bytes(d->ops);
      /* the pipe is made on the first splice: an idle or small-message flow holds none (no pipe: recv/send) */
      if (d->spl && d->pipe_r < 0 && new_pipe(r, d) != 0) d->spl = false;
    }
    /* a buffer is refilled only once empty; a pipe while it has room */
    bool room = d->spl ? d->queued < r->cap : d->queued == 0;
    if (!d->eof && d->readable && room && ops_may_read(r, p, d)) {
      ssize_t n = fill(r, d);
      if (n > 0) {
        __atomic_store_n(&d->queued, d->queued + (size_t)n, __ATOMIC_RELAXED);
        progress = true;
        /* a short recv() on a stream socket emptied it (epoll(7)): no EAGAIN round trip; the next segment
         * raises a new edge (a FIN already signalled does not: `hup`). Not for splice: a short splice may mean the pipe ran out of slots. */
        if (!d->spl && (size_t)n < d->asked && !d->hup) d->readable = false;
      } else if (n == 0) {
        d->eof = true;
        progress = true;
        /* the client's FIN after ours (its side's write was shut already): an active close on side a */
        if (di == 0 && p->tw && p->d[1].done) tw_release(r, p->tw, p->id, 0);
      } else if (n == -EAGAIN) {
        /* with bytes in the pipe, EAGAIN may mean "pipe full": only an empty pipe proves the socket empty */
        if (d->queued == 0) d->readable = false;
      } else if (n != -EINTR) {
        fail(r, p, n == -ENOMEM ? out_side : in_side, -n);
        return false;
      }
    }
    if (d->queued > 0 && d->writable) {
      ssize_t n = drain(r, d);
      if (n > 0) {
        __atomic_store_n(&d->queued, d->queued - (size_t)n, __ATOMIC_RELAXED);
        __atomic_store_n(&d->bytes, d->bytes + (uint64_t)n, __ATOMIC_RELAXED);
        *budget = *budget > (size_t)n ? *budget - (size_t)n : 0;
        __atomic_store_n(&p->last_ms, now_ms(), __ATOMIC_RELAXED);
        p->dirty = true;
        progress = true;
        /* a short send(): the socket's buffer is full, EPOLLOUT comes once it has room */
        if (!d->spl && d->queued > 0) d->writable = false;
        if (d->queued == 0 && d->buf && !d->readable) {
          free(d->buf); /* idle: no buffer held */
          d->buf = NULL;
        }
      } else if (n == -EAGAIN) {
        d->writable = false;
      } else if (n != -EINTR) {
        fail(r, p, out_side, -n);
        return false;
      }
    }
    if (d->eof && d->queued == 0) {
      shutdown(d->out, SHUT_WR);
      d->done = true;
      free_dir(d);
      emit(r, p, EV_EOF, di, 0);
      break;
    }
    if (!progress) break;
  }
  return true;
}

static void pump(relay_t *r, pair_t *p) {
  if (p->dead) return;
  size_t budget = PUMP_BUDGET;
  for (int di = 0; di < 2; di++)
    if (!pump_dir(r, p, di, &budget)) return;
  if (p->d[0].done && p->d[1].done) {
    finish(r, p, DONE_OK, false);
    return;
  }
  if (budget == 0 && !p->on_ready) {
    p->on_ready = true;
    p->next_ready = r->ready;
    r->ready = p;
  }
}

/* ops: epoll_wait's timeout, no later than the nearest rate-limited direction's refill. */
static int ops_timeout(relay_t *r, int timeout) {
  int64_t now = relay_ops_now_ns();
  for (pair_t *p = r->waiting; p; p = p->next_waiting) {
    if (p->dead) continue;
    int64_t ms = p->wake_ns <= now ? 0 : (p->wake_ns - now + 999999) / 1000000;
    if (ms < timeout) timeout = (int)ms;
  }
  return timeout;
}

/* ops: pumps the waiting pairs whose refill time has come (`dead_only`: only forgets the ended ones, before they are freed). */
static void ops_wake(relay_t *r, bool dead_only) {
  pair_t *list = r->waiting;
  r->waiting = NULL;
  int64_t now = dead_only ? 0 : relay_ops_now_ns();
  while (list) {
    pair_t *p = list;
    list = p->next_waiting;
    if (p->dead || (!dead_only && p->wake_ns <= now)) {
      p->waiting = false;
      if (!p->dead) pump(r, p);
      continue;
    }
    p->next_waiting = r->waiting;
    r->waiting = p;
  }
}

/*
 * Side b of a `connecting` pair: EPOLLOUT with SO_ERROR 0 is the connect done (reported; relaying
 * starts); an error fails the pair as side b's (the client side is reset). True when relaying may start.
 */
static bool connect_done(relay_t *r, pair_t *p, uint32_t ev) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(p->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (!err && (ev & (EPOLLERR | EPOLLHUP))) err = ECONNREFUSED; /* a failure whose error was taken already */
  if (err) {
    fail(r, p, 1, err);
    return false;
  }
  if (!(ev & EPOLLOUT)) return false;
  p->connecting = false;
  emit(r, p, EV_CONNECTED, 0, 0);
  return true;
}

/* Room for one more accept record; NULL when out of memory. */
static uint8_t *acc_slot(relay_t *r) {
  batch_t *b = &r->batch;
  if (b->acc_cap - b->acc_n < ACC_RECORD_MAX) {
    size_t cap = b->acc_cap ? b->acc_cap * 2 : 8 * ACC_RECORD_MAX;
    uint8_t *m = realloc(b->acc, cap);
    if (!m) return NULL;
    b->acc = m;
    b->acc_cap = cap;
  }
  return b->acc + b->acc_n;
}

static void listener_pause(relay_t *r, listener_t *l) {
  struct epoll_event ev = {.events = 0, .data.ptr = l};
  epoll_ctl(r->ep, EPOLL_CTL_MOD, l->fd, &ev);
  l->paused = true;
  l->resume_ms = now_ms() + ACCEPT_PAUSE_MS;
}

static void listener_arm(relay_t *r, listener_t *l) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
  epoll_ctl(r->ep, EPOLL_CTL_MOD, l->fd, &ev);
}

/* Listeners whose pause is over, or throttled while JavaScript caught up, accept again; `timeout` shortened to the next one due. */
static int listeners_resume(relay_t *r, int timeout) {
  int64_t now = now_ms();
  bool below = __atomic_load_n(&r->acc_inflight, __ATOMIC_ACQUIRE) < ACCEPT_INFLIGHT;
  for (listener_t *l = r->listeners; l; l = l->next) {
    if (l->throttled && below) {
      l->throttled = false;
      if (!l->paused) listener_arm(r, l);
    }
    if (!l->paused) continue;
    if (l->resume_ms <= now) {
      l->paused = false;
      if (!l->throttled) listener_arm(r, l);
    } else if (l->resume_ms - now < timeout) {
      timeout = (int)(l->resume_ms - now);
    }
  }
  return timeout < 1 ? 1 : timeout;
}

/* Accepts what the listener has (ACCEPT_BATCH at most): a record each; an accept error is a record too. */
static void on_listener(relay_t *r, listener_t *l) {
  if (l->fd < 0 || l->paused || l->throttled) return; /* removed or stopped this turn */
  for (int i = 0; i < ACCEPT_BATCH; i++) {
    if (__atomic_load_n(&r->acc_inflight, __ATOMIC_ACQUIRE) >= ACCEPT_INFLIGHT) {
      /* JavaScript is behind: wait for it (call_js wakes the thread) */
      struct epoll_event ev = {.events = 0, .data.ptr = l};
      epoll_ctl(r->ep, EPOLL_CTL_MOD, l->fd, &ev);
      l->throttled = true;
      __atomic_store_n(&r->acc_throttled, true, __ATOMIC_SEQ_CST);
      /* JavaScript may have caught up between the check and the flag (then it did not wake us) */
      if (__atomic_load_n(&r->acc_inflight, __ATOMIC_SEQ_CST) < ACCEPT_INFLIGHT) {
        l->throttled = false;
        listener_arm(r, l);
      }
      return;
    }
    struct sockaddr_in6 sa;
    socklen_t len = sizeof sa;
    int fd = accept4(l->fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      /* accept(2): these are the connection's own (it went away, a network error): take the next */
      if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM || err == ENETDOWN || err == ENOPROTOOPT ||
          err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH || err == EOPNOTSUPP || err == ENETUNREACH)
        continue;
      uint8_t *rec = acc_slot(r);
      if (rec) r->batch.acc_n += accept_error_record(rec, err);
      /* out of descriptors or memory: the listener stays readable; stop a while instead of spinning */
      listener_pause(r, l);
      return;
    }
    uint8_t *rec = acc_slot(r);
    if (!rec) {
      set_linger(fd, 1);
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    r->batch.acc_n += accept_record(rec, fd, &sa, l->saved_syn);
    __atomic_add_fetch(&r->acc_inflight, 1, __ATOMIC_ACQ_REL);
  }
}

static void listener_close(relay_t *r, listener_t *l) {
  epoll_ctl(r->ep, EPOLL_CTL_DEL, l->fd, NULL);
  close(l->fd);
  l->fd = -1;
}

/*
 * unlisten: the thread stops accepting on `fd` and closes it (connections still queued are reset by
 * the kernel). Freed at the end of the turn: an event of this turn may still name it.
 */
static void listener_remove(relay_t *r, int fd) {
  for (listener_t **at = &r->listeners; *at; at = &(*at)->next) {
    if ((*at)->fd != fd) continue;
    listener_t *l = *at;
    *at = l->next;
    listener_close(r, l);
    l->next = r->dead_listeners;
    r->dead_listeners = l;
    return;
  }
}

static void on_event(relay_t *r, side_t *s, uint32_t ev) {
  if (!s->p) {
    on_listener(r, (listener_t *)s);
    return;
  }
  pair_t *p = s->p;
  if (p->dead) return;
  if (p->connecting && s->idx == 1 && !connect_done(r, p, ev)) return;
  if (ev & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p->fd[s->idx], SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      fail(r, p, s->idx, err);
      return;
    }
  }
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) p->d[s->idx].readable = true;
  if (ev & (EPOLLRDHUP | EPOLLHUP)) p->d[s->idx].hup = true;
  if (ev & (EPOLLOUT | EPOLLHUP)) p->d[1 - s->idx].writable = true;
  if (p->connecting) return; /* the client side's readiness is kept until side b is connected */
  pump(r, p);
}

static pair_t *lookup(relay_t *r, uint32_t id) {
  pair_t *p = (id % MAX_SLOTS) < r->nslots ? r->slots[id % MAX_SLOTS] : NULL;
  return p && p->id == id ? p : NULL;
}

/* Starts watching a new pair (edge-triggered: the kernel reports what is ready already). */
static void arm(relay_t *r, pair_t *p) {
  for (int i = 0; i < 2; i++) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &p->side[i]};
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, p->fd[i], &ev) < 0) {
      fail(r, p, i, errno);
      return;
    }
  }
}

/* Starts the pairs JavaScript added, aborts those it asked to; true when the relay is stopping. */
static bool take_commands(relay_t *r) {
  uint64_t v;
  while (read(r->evfd, &v, sizeof v) > 0) {
  }
  pthread_mutex_lock(&r->mu);
  size_t n = r->ncmds;
  struct cmd *cmds = r->cmds;
  r->cmds = NULL;
  r->ncmds = r->capcmds = 0;
  bool stop = r->stop;
  pthread_mutex_unlock(&r->mu);
  for (size_t i = 0; i < n; i++) {
    if (cmds[i].add) {
      arm(r, cmds[i].add);
      continue;
    }
    if (cmds[i].listen) {
      listener_t *l = cmds[i].listen;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
      if (epoll_ctl(r->ep, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
        uint8_t *rec = acc_slot(r);
        if (rec) r->batch.acc_n += accept_error_record(rec, errno);
      }
      l->next = r->listeners;
      r->listeners = l;
      continue;
    }
    if (cmds[i].unlisten) {
      listener_remove(r, cmds[i].unlisten - 1);
      continue;
    }
    pthread_mutex_lock(&r->mu);
    pair_t *p = lookup(r, cmds[i].abort_id);
    pthread_mutex_unlock(&r->mu);
    if (p) finish(r, p, DONE_ABORTED, true);
  }
  free(cmds);
  return stop;
}

/* Queues a command for the thread and wakes it; false when out of memory. */
static bool post(relay_t *r, struct cmd c) {
  if (r->ncmds == r->capcmds) {
    size_t n = r->capcmds ? r->capcmds * 2 : 16;
    struct cmd *m = realloc(r->cmds, n * sizeof *m);
    if (!m) return false;
    r->cmds = m;
    r->capcmds = n;
  }
  r->cmds[r->ncmds++] = c;
  uint64_t one = 1;
  if (write(r->evfd, &one, sizeof one) < 0) {
    /* saturated counter: the thread is awake anyway */
  }
  return true;
}

/* The counters JavaScript has not seen, at most every reportMs; and the batch, when it holds anything. */
static void flush(relay_t *r, bool force) {
  int64_t now = now_ms();
  bool due = force || now - r->last_flush >= r->report_ms;
  if (due) {
    r->last_flush = now;
    pthread_mutex_lock(&r->mu); /* the table may grow on the JavaScript thread; pairs are freed only here */
    for (uint32_t i = 0; i < r->nslots; i++) {
      pair_t *p = r->slots[i];
      if (p && p->dirty && !p->dead) emit(r, p, EV_BYTES, 0, 0);
    }
    pthread_mutex_unlock(&r->mu);
  }
  if ((r->batch.n == 0 && r->batch.acc_n == 0) || (!due && !r->batch.urgent && r->batch.acc_n == 0)) return;
  batch_t *out = malloc(sizeof *out);
  if (!out) return;
  *out = r->batch;
  r->batch = (batch_t){0};
  if (napi_call_threadsafe_function(r->tsfn, out, napi_tsfn_blocking) != napi_ok) {
    free(out->rec);
    free(out);
  }
}

static void *relay_main(void *arg) {
  relay_t *r = arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the main thread's */
  struct epoll_event evs[256];
  bool stopping = false;
  while (!stopping) {
    int timeout = r->ready ? 0 : tw_timeout(r, r->report_ms);
    if (r->waiting) timeout = ops_timeout(r, timeout);
    if (r->listeners) timeout = timeout == 0 ? 0 : listeners_resume(r, timeout);
    int n = epoll_wait(r->ep, evs, 256, timeout);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL)
        stopping = take_commands(r);
      else
        on_event(r, evs[i].data.ptr, evs[i].events);
    }
    pair_t *ready = r->ready;
    r->ready = NULL;
    while (ready) {
      pair_t *p = ready;
      ready = p->next_ready;
      p->on_ready = false;
      pump(r, p);
    }
    if (r->waiting) ops_wake(r, false);
    while (stopping) {
      pthread_mutex_lock(&r->mu);
      pair_t *p = NULL;
      for (uint32_t i = 0; i < r->nslots && !p; i++) p = r->slots[i];
      pthread_mutex_unlock(&r->mu);
      if (!p) break;
      finish(r, p, DONE_CLOSED, true);
    }
    tw_retry_due(r);
    flush(r, stopping); /* counters on their period; eof/reset/done (carrying totals) at once */
    if (r->dead && r->waiting) ops_wake(r, true);
    while (r->dead_listeners) {
      listener_t *l = r->dead_listeners;
      r->dead_listeners = l->next;
      free(l);
    }
    while (r->dead) {
      pair_t *p = r->dead;
      r->dead = p->next_dead;
      free(p->tw);
      free(p);
    }
  }
  while (r->listeners) {
    listener_t *l = r->listeners;
    r->listeners = l->next;
    listener_close(r, l);
    free(l);
  }
  return NULL;
}

/* On the JavaScript thread: hands a batch to the callback as a Float64Array. */
/* The connections among a batch's accept records. */
static uint32_t count_accepts(const batch_t *b) {
  uint32_t n = 0;
  for (size_t off = 0; off + ACC_HEADER <= b->acc_n;) {
    const uint8_t *rec = b->acc + off;
    int16_t srh = (int16_t)((uint16_t)rec[12] | (uint16_t)rec[13] << 8);
    if (rec[0] == ACC_CONN) n++;
    off += ACC_HEADER + rec[1] + rec[2] + (rec[0] == ACC_CONN && srh > 0 ? (size_t)srh : 0);
  }
  return n;
}

/* Closes the accepted descriptors of records JavaScript will not see. */
static void drop_accepts(const batch_t *b) {
  for (size_t off = 0; off + ACC_HEADER <= b->acc_n;) {
    const uint8_t *rec = b->acc + off;
    int fd = (int)((uint32_t)rec[4] | (uint32_t)rec[5] << 8 | (uint32_t)rec[6] << 16 | (uint32_t)rec[7] << 24);
    int16_t srh = (int16_t)((uint16_t)rec[12] | (uint16_t)rec[13] << 8);
    int early = (int)((uint32_t)rec[16] | (uint32_t)rec[17] << 8 | (uint32_t)rec[18] << 16 | (uint32_t)rec[19] << 24);
    if (rec[0] == ACC_CONN) {
      set_linger(fd, 1);
      close(fd);
      if (early >= 0) {
        set_linger(early, 1);
        close(early);
      }
    }
    off += ACC_HEADER + rec[1] + rec[2] + (rec[0] == ACC_CONN && srh > 0 ? (size_t)srh : 0);
  }
}

/* On the JavaScript thread: hands a batch to the callback as a Float64Array (and the accept records as a Buffer). */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  relay_t *r = context;
  batch_t *b = data;
  bool taken = false;
  if (env != NULL && cb != NULL) {
    size_t bytes = b->n * REC_FIELDS * sizeof(double);
    void *mem;
    napi_value ab, argv[2];
    if (napi_create_arraybuffer(env, bytes, &mem, &ab) == napi_ok) {
      memcpy(mem, b->rec, bytes);
      napi_create_typedarray(env, napi_float64_array, b->n * REC_FIELDS, ab, 0, &argv[0]);
      for (size_t i = 0; i < b->n; i++)
        if (b->rec[i * REC_FIELDS + 1] == EV_DONE && r->live > 0 && --r->live == 0 && r->listening == 0) napi_unref_threadsafe_function(env, r->tsfn);
      size_t argc = 1;
      if (b->acc_n > 0 && napi_create_buffer_copy(env, b->acc_n, b->acc, NULL, &argv[1]) == napi_ok) {
        argc = 2;
        taken = true;
      }
      napi_value undef;
      napi_get_undefined(env, &undef);
      napi_call_function(env, undef, cb, argc, argv, NULL);
    }
  }
  if (!taken) drop_accepts(b);
  uint32_t seen = count_accepts(b);
  if (seen > 0) {
    __atomic_sub_fetch(&r->acc_inflight, seen, __ATOMIC_ACQ_REL);
    uint64_t one = 1;
    /* a listener waits for these to be seen: wake the thread */
    if (__atomic_exchange_n(&r->acc_throttled, false, __ATOMIC_ACQ_REL) && write(r->evfd, &one, sizeof one) < 0) {
      /* saturated counter: the thread is awake anyway */
    }
  }
  free(b->rec);
  free(b->acc);
  free(b);
}

static void stop_relay(relay_t *r) {
  if (!r->running) return;
  pthread_mutex_lock(&r->mu);
  r->stop = true;
  pthread_mutex_unlock(&r->mu);
  uint64_t one = 1;
  if (write(r->evfd, &one, sizeof one) < 0) {
    /* the counter is saturated: the thread is awake anyway */
  }
  pthread_join(r->thread, NULL);
  r->running = false;
}

static void cleanup_hook(void *arg) {
  relay_t *r = arg;
  stop_relay(r);
  if (r->tsfn) napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
  r->tsfn = NULL;
}

static void finalize_relay(napi_env env, void *data, void *hint) {
  (void)hint;
  relay_t *r = data;
  napi_remove_env_cleanup_hook(env, cleanup_hook, r);
  cleanup_hook(r);
  close(r->ep);
  close(r->evfd);
  drop_accepts(&r->batch);
  free(r->batch.rec);
  free(r->batch.acc);
  free(r->slots);
  free(r->free_slots);
  free(r->cmds);
  free(r->tw_retries);
  tw_diag_close(&r->diag);
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static relay_t *get_relay(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

/* relayCreate(mode 0 splice | 1 copy | 2 auto, capacity bytes, reportMs, callback(Float64Array)) -> handle */
static napi_value js_relay_create(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  uint32_t mode, cap, report;
  napi_valuetype t;
  if (!get_args(env, info, 4, argv) || !get_u32(env, argv[0], &mode) || !get_u32(env, argv[1], &cap) ||
      !get_u32(env, argv[2], &report) || napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function || mode > 2 ||
      cap < 4096 || report < 1)
    return throw_type(env, "relayCreate(mode 0|1|2, capacity >= 4096, reportMs >= 1, callback)");
  relay_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "calloc", ENOMEM);
  r->env = env;
  r->mode = (int)mode;
  r->cap = cap;
  r->report_ms = (int)report;
  r->diag.fd = -1;
  r->ep = epoll_create1(EPOLL_CLOEXEC);
  r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  pthread_mutex_init(&r->mu, NULL);
  int err = 0;
  if (r->ep < 0 || r->evfd < 0) err = errno;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (!err && epoll_ctl(r->ep, EPOLL_CTL_ADD, r->evfd, &ev) < 0) err = errno;
  if (err) {
    if (r->ep >= 0) close(r->ep);
    if (r->evfd >= 0) close(r->evfd);
    free(r);
    return throw_errno(env, "epoll", err);
  }
  napi_value name, handle;
  napi_create_string_utf8(env, "srv6pipes relay", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, r, call_js, &r->tsfn);
  napi_unref_threadsafe_function(env, r->tsfn);
  r->last_flush = now_ms();
  if ((err = pthread_create(&r->thread, NULL, relay_main, r)) != 0) {
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
    close(r->ep);
    close(r->evfd);
    free(r);
    return throw_errno(env, "pthread_create", err);
  }
  r->running = true;
  napi_add_env_cleanup_hook(env, cleanup_hook, r);
  napi_create_external(env, r, finalize_relay, NULL, &handle);
  return handle;
}


/* `first` and `first + 1`, when given: the ops of a->b and of b->a (relay-ops.h); false: a TypeError is thrown. */
static bool add_ops(napi_env env, napi_callback_info info, size_t first, relay_ops_t *ops[2]) {
  napi_value argv[MAX_ARGS];
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  for (size_t i = 0; i < 2 && first + i < argc; i++) {
    const char *why = NULL;
    if (!relay_ops_parse(env, argv[first + i], &ops[i], &why)) {
      relay_ops_free(ops[0]);
      ops[0] = NULL;
      throw_type(env, why);
      return false;
    }
  }
  return true;
}

/* relayAdd's 6th argument: fdB's non-blocking connect is still under way (relaying waits for it) */
static bool get_connecting(napi_env env, napi_callback_info info, napi_value *argv, bool *connecting) {
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  napi_valuetype t;
  if (argc < 6 || napi_typeof(env, argv[5], &t) != napi_ok || t == napi_undefined) return true;
  return napi_get_value_bool(env, argv[5], connecting) == napi_ok;
}

/* The relay's thread-safe function stays ref'd while a pair or a listener is there (JavaScript thread). */
static void hold(napi_env env, relay_t *r) {
  if (r->live + r->listening == 0) napi_ref_threadsafe_function(env, r->tsfn);
}

/*
 * A pair of the descriptors fa, fb (the pair's own from here on: on success only; on failure the
 * caller keeps and closes them), posted to the thread; its id, or an errno. `ops` are the pair's
 * (freed on failure too).
 */
/*
 * The client's first bytes — a request already waiting when JavaScript answers the accept — sent on
 * from the calling thread, before the relay thread has the pair: no thread hop between the decision
 * and the request reaching the next hop. Only a direction without ops, only what the onward socket
 * takes at once (its connect must be up: an early connect usually is), at most FIRST_MAX bytes:
 * peeked, sent, then exactly as many consumed — nothing is held here. The bytes moved (0: nothing
 * waits, the connect is not up, or anything fails; the relay thread moves them as usual).
 */
#define FIRST_MAX 16384
static uint64_t first_transfer(int fa, int fb) {
  char buf[FIRST_MAX];
  ssize_t n = recv(fa, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return 0;
  ssize_t m = send(fb, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (m <= 0) return 0;
  /* the m bytes are queued on fa (peeked): TCP copies them all */
  ssize_t c = recv(fa, buf, (size_t)m, MSG_DONTWAIT);
  return c > 0 ? (uint64_t)c : 0;
}

static int add_pair(napi_env env, relay_t *r, int fa, int fb, bool abortive, bool release_tw, bool connecting, relay_ops_t *ops[2], uint32_t *id, uint64_t sent_a_to_b) {
  pair_t *p = calloc(1, sizeof *p);
  if (!p) {
    relay_ops_free(ops[0]);
    relay_ops_free(ops[1]);
    return ENOMEM;
  }
  int err = 0;
  p->fd[0] = fa;
  p->fd[1] = fb;
  p->d[0].bytes = sent_a_to_b;
  for (int i = 0; i < 2; i++) {
    dir_t *d = &p->d[i];
    d->in = p->fd[i];
    d->out = p->fd[1 - i];
    d->pipe_r = d->pipe_w = -1;
    d->ops = ops[i];
    p->side[i] = (side_t){p, i};
    if (!err) {
      int fl = fcntl(p->fd[i], F_GETFL);
      if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(p->fd[i], F_SETFL, fl | O_NONBLOCK) < 0)) err = errno;
    }
  }
  if (!err && release_tw) {
    /* unreadable (not IPv6, not connected): no release, as the JavaScript relay would not either */
    if (!(p->tw = malloc(sizeof *p->tw)))
      err = ENOMEM;
    else if (!tw_key_read(p->fd[0], p->tw)) {
      free(p->tw);
      p->tw = NULL;
    }
  }
  if (!err && abortive) {
    set_linger(p->fd[0], 1);
    set_linger(p->fd[1], 1);
  }
  pthread_mutex_lock(&r->mu);
  if (!err && r->nfree == 0) {
    /* grow: the new slots go on the free stack, the lowest on top */
    uint32_t n = r->nslots ? r->nslots * 2 : 64;
    pair_t **s = n <= MAX_SLOTS ? realloc(r->slots, n * sizeof *s) : NULL;
    if (s) r->slots = s;
    uint32_t *f = s ? realloc(r->free_slots, n * sizeof *f) : NULL;
    if (f) r->free_slots = f;
    if (!s || !f) {
      err = ENOMEM;
    } else {
      memset(s + r->nslots, 0, (n - r->nslots) * sizeof *s);
      for (uint32_t i = n; i > r->nslots; i--) r->free_slots[r->nfree++] = i - 1;
      r->nslots = n;
    }
  }
  uint32_t slot = err ? 0 : r->free_slots[--r->nfree];
  if (!err) {
    r->gen = (r->gen + 1) % 4096;
    p->slot = slot;
    p->id = r->gen * MAX_SLOTS + slot;
    *id = p->id; /* once posted, the thread may end and free the pair at any time: p is not read after the unlock */
    p->last_ms = now_ms();
    p->connecting = connecting;
    if (post(r, (struct cmd){.add = p})) {
      r->slots[slot] = p;
    } else {
      err = ENOMEM;
      r->free_slots[r->nfree++] = slot;
    }
  }
  pthread_mutex_unlock(&r->mu);
  if (err) {
    for (int i = 0; i < 2; i++) free_dir(&p->d[i]);
    free(p->tw);
    free(p);
    return err;
  }
  hold(env, r);
  r->live++;
  return 0;
}

/* relayAdd(handle, fdA, fdB, abortive, releaseTimeWait, connecting[, opsAtoB, opsBtoA]) -> pair id. Dups both
 * descriptors: the caller may close its own. releaseTimeWait: side a is a client-facing socket whose TIME_WAIT
 * after an active close is destroyed (tw.h); its tuple and cookie are read now, while it is connected.
 * connecting: fdB's non-blocking connect is under way (relaying waits for it). */
static napi_value js_relay_add(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fa, fb;
  bool abortive = true, release_tw = false;
  relay_t *r;
  bool connecting = false;
  if (!get_args(env, info, 5, argv) || !(r = get_relay(env, argv[0])) || !get_i32(env, argv[1], &fa) ||
      !get_i32(env, argv[2], &fb) || napi_get_value_bool(env, argv[3], &abortive) != napi_ok ||
      napi_get_value_bool(env, argv[4], &release_tw) != napi_ok || !get_connecting(env, info, argv, &connecting))
    return throw_type(env, "relayAdd(handle, fdA, fdB, abortive, releaseTimeWait, connecting[, opsAtoB, opsBtoA])");
  if (!r->running) return throw_errno(env, "relayAdd", EBADF);
  relay_ops_t *ops[2] = {NULL, NULL};
  if (!add_ops(env, info, 6, ops)) return NULL;
  int da = fcntl(fa, F_DUPFD_CLOEXEC, 0);
  int db = da < 0 ? -1 : fcntl(fb, F_DUPFD_CLOEXEC, 0);
  int err = db < 0 ? errno : 0;
  uint32_t pid = 0;
  if (!err) err = add_pair(env, r, da, db, abortive, release_tw, connecting, ops, &pid, 0);
  else {
    relay_ops_free(ops[0]);
    relay_ops_free(ops[1]);
  }
  if (err) {
    if (da >= 0) close(da);
    if (db >= 0) close(db);
    return throw_errno(env, "relayAdd", err);
  }
  napi_value id;
  napi_create_uint32(env, pid, &id);
  return id;
}

/*
 * relayAcceptConnect(handle, fdA, srh | null, releaseTimeWait[, opsAtoB, opsBtoA]) -> pair id. fdA is
 * a connection the relay accepted (relayListen): the onward socket is made here — transparent, the
 * onward SRH, TCP_NODELAY, bound to fdA's peer (the client's address, any port), its non-blocking
 * connect to fdA's local address (the server the client asked for) started — and the pair added
 * `connecting` (onConnected, or a reset of side b with the connect's errno). One call for what would
 * be socket, four setsockopts, bind, connect and relayAdd. On success fdA is the relay's (not dup'ed:
 * the caller forgets it); on failure (thrown, code the errno's name, syscall the step) the caller keeps fdA.
 */
static napi_value js_relay_accept_connect(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fa;
  bool release_tw = false;
  relay_t *r;
  void *srh = NULL;
  size_t srh_len = 0;
  napi_valuetype t = napi_null;
  if (!get_args(env, info, 4, argv) || !(r = get_relay(env, argv[0])) || !get_i32(env, argv[1], &fa) ||
      napi_typeof(env, argv[2], &t) != napi_ok || (t != napi_null && t != napi_undefined && !get_buf(env, argv[2], &srh, &srh_len)) ||
      napi_get_value_bool(env, argv[3], &release_tw) != napi_ok)
    return throw_type(env, "relayAcceptConnect(handle, fdA, srh | null, releaseTimeWait[, opsAtoB, opsBtoA])");
  if (!r->running) return throw_errno(env, "relayAcceptConnect", EBADF);
  struct sockaddr_in6 client, server;
  socklen_t cl = sizeof client, sl = sizeof server;
  if (getpeername(fa, (struct sockaddr *)&client, &cl) < 0) return throw_errno(env, "getpeername", errno);
  if (getsockname(fa, (struct sockaddr *)&server, &sl) < 0) return throw_errno(env, "getsockname", errno);
  client.sin6_port = 0; /* any port: the client's own collides with its previous flow's onward connection */
  int fb = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fb < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  const char *step = NULL;
  if (setsockopt(fb, IPPROTO_IPV6, IPV6_TRANSPARENT, &one, sizeof one) < 0) step = "setsockopt(IPV6_TRANSPARENT)";
  else if (srh_len > 0 && setsockopt(fb, IPPROTO_IPV6, IPV6_RTHDR, srh, (socklen_t)srh_len) < 0) step = "setsockopt(IPV6_RTHDR)";
  else if (setsockopt(fb, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) step = "setsockopt(TCP_NODELAY)";
  else if (setsockopt(fb, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) step = "setsockopt(SO_REUSEADDR)";
  else if (bind(fb, (struct sockaddr *)&client, cl) < 0) step = "bind";
  else if (connect(fb, (struct sockaddr *)&server, sl) < 0 && errno != EINPROGRESS) step = "connect";
  if (step) {
    int err = errno;
    close(fb);
    return throw_errno(env, step, err);
  }
  relay_ops_t *ops[2] = {NULL, NULL};
  if (!add_ops(env, info, 4, ops)) {
    close(fb);
    return NULL;
  }
  uint32_t pid = 0;
  int err = add_pair(env, r, fa, fb, true, release_tw, true, ops, &pid, ops[0] ? 0 : first_transfer(fa, fb));
  if (err) {
    set_linger(fb, 1); /* a reset: the next hop may have the first bytes, never a FIN after them */
    close(fb);
    return throw_errno(env, "relayAcceptConnect", err);
  }
  napi_value id;
  napi_create_uint32(env, pid, &id);
  return id;
}

/*
 * relayAcceptAdopt(handle, fdA, fdB, releaseTimeWait[, opsAtoB, opsBtoA]) -> pair id: as
 * relayAcceptConnect, for an onward socket whose connect the accept loop started already (an early
 * connect, accept-loop.c). On success both descriptors are the relay's; on a throw both are still the
 * caller's.
 */
static napi_value js_relay_accept_adopt(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fa, fb;
  bool release_tw = false;
  relay_t *r;
  if (!get_args(env, info, 4, argv) || !(r = get_relay(env, argv[0])) || !get_i32(env, argv[1], &fa) || !get_i32(env, argv[2], &fb) ||
      fa < 0 || fb < 0 || napi_get_value_bool(env, argv[3], &release_tw) != napi_ok)
    return throw_type(env, "relayAcceptAdopt(handle, fdA, fdB, releaseTimeWait[, opsAtoB, opsBtoA])");
  if (!r->running) return throw_errno(env, "relayAcceptAdopt", EBADF);
  relay_ops_t *ops[2] = {NULL, NULL};
  if (!add_ops(env, info, 4, ops)) return NULL;
  uint32_t pid = 0;
  int err = add_pair(env, r, fa, fb, true, release_tw, true, ops, &pid, ops[0] ? 0 : first_transfer(fa, fb));
  if (err) return throw_errno(env, "relayAcceptAdopt", err);
  napi_value id;
  napi_create_uint32(env, pid, &id);
  return id;
}

/*
 * relayListen(handle, fd, savedSyn): the thread accepts on the listening `fd` from now on (it is the
 * relay's: relayUnlisten or relayClose closes it). Each connection comes as an accept record with the
 * next batch (accept.h); `savedSyn`: its routing header is read from TCP_SAVED_SYN first.
 */
static napi_value js_relay_listen(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  bool saved = false;
  relay_t *r;
  if (!get_args(env, info, 3, argv) || !(r = get_relay(env, argv[0])) || !get_i32(env, argv[1], &fd) ||
      napi_get_value_bool(env, argv[2], &saved) != napi_ok || fd < 0)
    return throw_type(env, "relayListen(handle, fd, savedSyn)");
  if (!r->running) return throw_errno(env, "relayListen", EBADF);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return throw_errno(env, "fcntl", errno);
  listener_t *l = calloc(1, sizeof *l);
  if (!l) return throw_errno(env, "calloc", ENOMEM);
  l->fd = fd;
  l->saved_syn = saved;
  pthread_mutex_lock(&r->mu);
  bool ok = post(r, (struct cmd){.listen = l});
  pthread_mutex_unlock(&r->mu);
  if (!ok) {
    free(l);
    return throw_errno(env, "relayListen", ENOMEM);
  }
  hold(env, r);
  r->listening++;
  return NULL;
}

/* relayUnlisten(handle, fd): the thread stops accepting on fd and closes it. */
static napi_value js_relay_unlisten(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  relay_t *r;
  if (!get_args(env, info, 2, argv) || !(r = get_relay(env, argv[0])) || !get_i32(env, argv[1], &fd) || fd < 0)
    return throw_type(env, "relayUnlisten(handle, fd)");
  if (!r->running || r->listening == 0) return NULL;
  pthread_mutex_lock(&r->mu);
  bool ok = post(r, (struct cmd){.unlisten = fd + 1});
  pthread_mutex_unlock(&r->mu);
  if (!ok) return throw_errno(env, "relayUnlisten", ENOMEM);
  if (--r->listening == 0 && r->live == 0) napi_unref_threadsafe_function(env, r->tsfn);
  return NULL;
}

/* fdReset(fd): SO_LINGER 0, then close: a RST for a connection JavaScript refused (or one close()). */
static napi_value js_fd_reset(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_i32(env, argv[0], &fd) || fd < 0) return throw_type(env, "fdReset(fd)");
  set_linger(fd, 1);
  if (close(fd) < 0) return throw_errno(env, "close", errno);
  return NULL;
}

/* relayStats(handle, id) -> [bytesAtoB, bytesBtoA, idleMs, queuedAtoB, queuedBtoA] or null once done */
static napi_value js_relay_stats(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS], out;
  uint32_t id;
  relay_t *r;
  if (!get_args(env, info, 2, argv) || !(r = get_relay(env, argv[0])) || !get_u32(env, argv[1], &id))
    return throw_type(env, "relayStats(handle, id)");
  double v[5];
  bool found = false;
  pthread_mutex_lock(&r->mu);
  pair_t *p = lookup(r, id);
  if (p) {
    found = true;
    v[0] = (double)__atomic_load_n(&p->d[0].bytes, __ATOMIC_RELAXED);
    v[1] = (double)__atomic_load_n(&p->d[1].bytes, __ATOMIC_RELAXED);
    v[2] = (double)(now_ms() - __atomic_load_n(&p->last_ms, __ATOMIC_RELAXED));
    v[3] = (double)__atomic_load_n(&p->d[0].queued, __ATOMIC_RELAXED);
    v[4] = (double)__atomic_load_n(&p->d[1].queued, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&r->mu);
  if (!found) {
    napi_get_null(env, &out);
    return out;
  }
  void *mem;
  napi_value ab;
  napi_create_arraybuffer(env, sizeof v, &mem, &ab);
  memcpy(mem, v, sizeof v);
  napi_create_typedarray(env, napi_float64_array, 5, ab, 0, &out);
  return out;
}

/* relayAbort(handle, id) -> false when the pair is done already; else both sides are reset soon */
static napi_value js_relay_abort(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS], out;
  uint32_t id;
  relay_t *r;
  if (!get_args(env, info, 2, argv) || !(r = get_relay(env, argv[0])) || !get_u32(env, argv[1], &id))
    return throw_type(env, "relayAbort(handle, id)");
  bool queued = false;
  pthread_mutex_lock(&r->mu);
  if (lookup(r, id) && r->running) queued = post(r, (struct cmd){.abort_id = id});
  pthread_mutex_unlock(&r->mu);
  napi_get_boolean(env, queued, &out);
  return out;
}

/* relayClose(handle): resets every pair still relayed, reports them done, stops the thread. */
static napi_value js_relay_close(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  relay_t *r;
  if (!get_args(env, info, 1, argv) || !(r = get_relay(env, argv[0]))) return throw_type(env, "relayClose(handle)");
  stop_relay(r);
  /* the thread closed the listeners: they hold the process no longer */
  if (r->listening > 0) {
    r->listening = 0;
    if (r->live == 0) napi_unref_threadsafe_function(env, r->tsfn);
  }
  return NULL;
}

/* acceptSrhInPacket(packet) -> the routing header's bytes, or SRH_* (a number): the saved-SYN walk of accept.c, for tests */
static napi_value js_accept_srh_in_packet(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS], out;
  void *pkt;
  size_t len;
  if (!get_args(env, info, 1, argv) || !get_buf(env, argv[0], &pkt, &len)) return throw_type(env, "acceptSrhInPacket(buffer)");
  uint8_t srh[ACCEPT_SRH_MAX];
  int n = accept_srh_in_packet(pkt, len, srh);
  if (n < 0) return make_i32(env, n);
  napi_create_buffer_copy(env, (size_t)n, srh, NULL, &out);
  return out;
}

void srv6pipes_register_relay(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"relayCreate", NULL, js_relay_create, NULL, NULL, NULL, napi_default, NULL},
      {"relayAdd", NULL, js_relay_add, NULL, NULL, NULL, napi_default, NULL},
      {"relayStats", NULL, js_relay_stats, NULL, NULL, NULL, napi_default, NULL},
      {"relayAbort", NULL, js_relay_abort, NULL, NULL, NULL, napi_default, NULL},
      {"relayClose", NULL, js_relay_close, NULL, NULL, NULL, napi_default, NULL},
      {"relayAcceptConnect", NULL, js_relay_accept_connect, NULL, NULL, NULL, napi_default, NULL},
      {"relayAcceptAdopt", NULL, js_relay_accept_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"relayListen", NULL, js_relay_listen, NULL, NULL, NULL, napi_default, NULL},
      {"relayUnlisten", NULL, js_relay_unlisten, NULL, NULL, NULL, napi_default, NULL},
      {"fdReset", NULL, js_fd_reset, NULL, NULL, NULL, napi_default, NULL},
      {"acceptSrhInPacket", NULL, js_accept_srh_in_packet, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  srv6pipes_register_relay_ops(env, exports);
}
