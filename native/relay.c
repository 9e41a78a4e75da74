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
 * any time (relayStats), and a pair can be aborted (relayAbort: both sides reset).
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
#include "napi-util.h"

/* auto: recv/send while reads are small, splice from a read of BULK bytes on (switching only with nothing in flight) */
enum { MODE_SPLICE = 0, MODE_COPY = 1, MODE_AUTO = 2 };
#define BULK (32u * 1024)
/* record kinds; arg: BYTES -, EOF the direction (0: a->b, 1: b->a), RESET the side that failed (0 a, 1 b), DONE how (below) */
enum { EV_BYTES = 0, EV_EOF = 1, EV_RESET = 2, EV_DONE = 3 };
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
  uint64_t reported[2];
  struct pair *next_ready, *next_dead;
} pair_t;

typedef struct batch {
  size_t n, cap;
  double *rec;
} batch_t;

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
  struct cmd { pair_t *add; uint32_t abort_id; } *cmds; /* pairs to start relaying, pair ids to abort */
  size_t ncmds, capcmds;
  bool stop;
  uint32_t live; /* JavaScript thread only: pairs not yet reported done (the tsfn is ref'd while > 0) */
  pair_t *ready, *dead;
  batch_t batch;
  int64_t last_flush;
} relay_t;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void emit(relay_t *r, pair_t *p, int kind, int arg, int err) {
  batch_t *b = &r->batch;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    double *rec = realloc(b->rec, cap * REC_FIELDS * sizeof(double));
    if (!rec) return; /* out of memory: the counters stay readable through relayStats */
    b->rec = rec;
    b->cap = cap;
  }
  double *x = b->rec + b->n++ * REC_FIELDS;
  x[0] = p->id;
  x[1] = kind;
  x[2] = arg;
  x[3] = err;
  x[4] = (double)p->d[0].bytes;
  x[5] = (double)p->d[1].bytes;
  p->reported[0] = p->d[0].bytes;
  p->reported[1] = p->d[1].bytes;
  p->dirty = false;
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

/* Takes bytes from d->in into the pipe/buffer: >0 bytes, 0 EOF, -errno. */
static ssize_t fill(relay_t *r, dir_t *d) {
  ssize_t n;
  if (d->spl) {
    n = splice(d->in, NULL, d->pipe_w, NULL, r->cap - d->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  } else {
    if (!d->buf && !(d->buf = malloc(r->cap))) return -ENOMEM;
    d->off = 0;
    n = recv(d->in, d->buf, r->cap, MSG_DONTWAIT);
  }
  if (n < 0) return -errno;
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

/* Moves one direction until it would block or has used `*budget`; false when the pair ended. */
static bool pump_dir(relay_t *r, pair_t *p, int di, size_t *budget) {
  dir_t *d = &p->d[di];
  int in_side = di, out_side = 1 - di;
  while (!d->done && *budget > 0) {
    bool progress = false;
    /* nothing in flight: pick the way (auto: by the last read's size) */
    if (d->queued == 0) d->spl = r->mode == MODE_SPLICE || (r->mode == MODE_AUTO && d->bulk);
    /* a buffer is refilled only once empty; a pipe while it has room */
    bool room = d->spl ? d->queued < r->cap : d->queued == 0;
    if (!d->eof && d->readable && room) {
      ssize_t n = fill(r, d);
      if (n > 0) {
        __atomic_store_n(&d->queued, d->queued + (size_t)n, __ATOMIC_RELAXED);
        progress = true;
        /* a short recv() on a stream socket emptied it (epoll(7)): no EAGAIN round trip; the next segment
         * raises a new edge (a FIN already signalled does not: `hup`). Not for splice: a short splice may mean the pipe ran out of slots. */
        if (!d->spl && (size_t)n < r->cap && !d->hup) d->readable = false;
      } else if (n == 0) {
        d->eof = true;
        progress = true;
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

static void on_event(relay_t *r, side_t *s, uint32_t ev) {
  pair_t *p = s->p;
  if (p->dead) return;
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
  if (force || now - r->last_flush >= r->report_ms) {
    r->last_flush = now;
    pthread_mutex_lock(&r->mu); /* the table may grow on the JavaScript thread; pairs are freed only here */
    for (uint32_t i = 0; i < r->nslots; i++) {
      pair_t *p = r->slots[i];
      if (p && p->dirty && !p->dead) emit(r, p, EV_BYTES, 0, 0);
    }
    pthread_mutex_unlock(&r->mu);
  }
  if (r->batch.n == 0) return;
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
    int timeout = r->ready ? 0 : r->report_ms;
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
    while (stopping) {
      pthread_mutex_lock(&r->mu);
      pair_t *p = NULL;
      for (uint32_t i = 0; i < r->nslots && !p; i++) p = r->slots[i];
      pthread_mutex_unlock(&r->mu);
      if (!p) break;
      finish(r, p, DONE_CLOSED, true);
    }
    flush(r, stopping); /* counters on their period; eof/reset/done (carrying totals) at once */
    while (r->dead) {
      pair_t *p = r->dead;
      r->dead = p->next_dead;
      free(p);
    }
  }
  return NULL;
}

/* On the JavaScript thread: hands a batch to the callback as a Float64Array. */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  relay_t *r = context;
  batch_t *b = data;
  if (env != NULL && cb != NULL) {
    size_t bytes = b->n * REC_FIELDS * sizeof(double);
    void *mem;
    napi_value ab, arr, undef;
    if (napi_create_arraybuffer(env, bytes, &mem, &ab) == napi_ok) {
      memcpy(mem, b->rec, bytes);
      napi_create_typedarray(env, napi_float64_array, b->n * REC_FIELDS, ab, 0, &arr);
      for (size_t i = 0; i < b->n; i++)
        if (b->rec[i * REC_FIELDS + 1] == EV_DONE && r->live > 0 && --r->live == 0) napi_unref_threadsafe_function(env, r->tsfn);
      napi_get_undefined(env, &undef);
      napi_call_function(env, undef, cb, 1, &arr, NULL);
    }
  }
  free(b->rec);
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
  free(r->batch.rec);
  free(r->slots);
  free(r->free_slots);
  free(r->cmds);
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

static int new_pipe(relay_t *r, dir_t *d) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return errno;
  d->pipe_r = fds[0];
  d->pipe_w = fds[1];
  /* refused (over fs.pipe-max-size or the user's pipe pages): a smaller pipe only means shorter splices */
  (void)fcntl(fds[1], F_SETPIPE_SZ, (int)r->cap);
  return 0;
}

/* relayAdd(handle, fdA, fdB, abortive) -> pair id. Dups both descriptors: the caller may close its own. */
static napi_value js_relay_add(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  int32_t fa, fb;
  bool abortive = true;
  relay_t *r;
  if (!get_args(env, info, 4, argv) || !(r = get_relay(env, argv[0])) || !get_i32(env, argv[1], &fa) ||
      !get_i32(env, argv[2], &fb) || napi_get_value_bool(env, argv[3], &abortive) != napi_ok)
    return throw_type(env, "relayAdd(handle, fdA, fdB, abortive)");
  if (!r->running) return throw_errno(env, "relayAdd", EBADF);
  pair_t *p = calloc(1, sizeof *p);
  if (!p) return throw_errno(env, "calloc", ENOMEM);
  int err = 0;
  p->fd[0] = fcntl(fa, F_DUPFD_CLOEXEC, 0);
  p->fd[1] = p->fd[0] < 0 ? -1 : fcntl(fb, F_DUPFD_CLOEXEC, 0);
  if (p->fd[1] < 0) err = errno;
  for (int i = 0; i < 2; i++) {
    dir_t *d = &p->d[i];
    d->in = p->fd[i];
    d->out = p->fd[1 - i];
    d->pipe_r = d->pipe_w = -1;
    p->side[i] = (side_t){p, i};
    if (!err && p->fd[i] >= 0) {
      int fl = fcntl(p->fd[i], F_GETFL);
      if (fl < 0 || fcntl(p->fd[i], F_SETFL, fl | O_NONBLOCK) < 0) err = errno;
    }
    if (!err && r->mode != MODE_COPY) err = new_pipe(r, d);
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
  uint32_t pid = 0; /* p's id, read under the lock: once it is unlocked the thread may relay, finish and free p */
  if (!err) {
    r->gen = (r->gen + 1) % 4096;
    p->slot = slot;
    p->id = r->gen * MAX_SLOTS + slot;
    p->last_ms = now_ms();
    pid = p->id;
    if (post(r, (struct cmd){.add = p})) {
      r->slots[slot] = p;
    } else {
      err = ENOMEM;
      r->free_slots[r->nfree++] = slot;
    }
  }
  pthread_mutex_unlock(&r->mu);
  if (err) {
    for (int i = 0; i < 2; i++) {
      if (p->fd[i] >= 0) close(p->fd[i]);
      free_dir(&p->d[i]);
    }
    free(p);
    return throw_errno(env, "relayAdd", err);
  }
  if (r->live++ == 0) napi_ref_threadsafe_function(env, r->tsfn);
  napi_value id;
  napi_create_uint32(env, pid, &id);
  return id;
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
  return NULL;
}

void srv6pipes_register_relay(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"relayCreate", NULL, js_relay_create, NULL, NULL, NULL, napi_default, NULL},
      {"relayAdd", NULL, js_relay_add, NULL, NULL, NULL, napi_default, NULL},
      {"relayStats", NULL, js_relay_stats, NULL, NULL, NULL, napi_default, NULL},
      {"relayAbort", NULL, js_relay_abort, NULL, NULL, NULL, napi_default, NULL},
      {"relayClose", NULL, js_relay_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}
