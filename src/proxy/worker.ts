/**
 * A proxy worker: one transparent listener (SO_REUSEPORT, so every worker has its own accept queue),
 * the flows it accepted, and their counters. One per CPU, each in its own process (worker-main.ts).
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { listenFd, serveFd, synRoutingHeader } from '../native/sockets.js';
import { native } from '../native/addon.js';
import { readConvertHeader } from '../mptcp/converter.js';
import { parseAddress, prefixContains } from '../net/ip6.js';
import type { FunctionSpec, LoadedFunction } from '../sdk/loader.js';
import { BUILTINS } from '../functions/registry.js';
import { FunctionTable, type FunctionInfo } from '../sdk/table.js';
import { isSrError, type ErrorCode } from '../core/errors.js';
import { AcceptFailures, Admission } from './admission.js';
import { LogLimiter } from '../sys/log-limit.js';
import { BindingLookup } from './bindings.js';
import { decide, type DecideOptions } from './decide.js';
import { classify, convertedPath, synPath, type Accepted, type Decision, type ReturnHop } from './classify.js';
import type { ProxyConfig } from './config.js';
import { FdInbound, ProxyFlow, resetSocket, type FlowRecord, type ProxyFlowDeps } from './flow.js';
import { expireIdle, type PairRelay } from '../sdk/flow.js';
import { NativeRelay } from '../native/relay.js';
import { countTimeWaitRelease } from './timewait.js';
import { nativeAcceptConnect, nativePairConnect, nativePairRelay, type AcceptConnect, type PairConnect } from './native-relay.js';
import type { FlowEnd } from '../sdk/flow-end.js';
import { WorkerMetrics, type MetricsJson } from './metrics.js';
import { FlowObserver } from './flow-metrics.js';
import { performance } from 'node:perf_hooks';
import { applyWorkerNofile, fdFlowCap } from './rlimit.js';
import { StatsBook, type ProxyStats } from './stats.js';
import { inheritedListenerMap, registerListener, type ListenerMapSource } from './sklookup.js';
import { savedSynRoutingHeader } from '../native/saved-syn.js';

/** An accepted socket's errors until its flow listens (one shared function, not a closure per connection). */
function ignoreError(): void {}

/** A connection's client side at the start: Node's accepted socket, or the descriptor the native relay accepted (nativeRelay.accept). */
type Inbound = net.Socket | FdInbound;

/** fe80::/10 in text form (Node's remoteAddress, a converter header's client) */
const LINK_LOCAL = /^fe[89ab][0-9a-f]:/i;

/**
 * Why a placed flow may not start, before admission: the worker is draining (a SYN whose binding-SID
 * lookup or converter header was still under way when the drain began), or the client is link-local.
 */
export function refuseStart(draining: boolean, client: string, server: string): Extract<FlowEnd, { kind: 'rejected' }> | undefined {
  if (draining) return { kind: 'rejected', code: 'PROXY_DRAINING', reason: 'the proxy is draining: it takes no new flows' };
  // the server-side connection is made from the client's address: a link-local one cannot leave its link
  if (LINK_LOCAL.test(client)) return { kind: 'rejected', code: 'FLOW_LINK_LOCAL', reason: `client ${client} is link-local: a transparent connection from it cannot reach ${server}` };
  return undefined;
}

export class ProxyWorker {
  private server: net.Server | undefined;
  /** nativeRelay.accept: the intercept listener's descriptor, accepted on by the relay thread (no net.Server) */
  private nativeListener: number | undefined;
  /** the operator-side MPTCP converter listener (mptcp.converter) */
  private converter: net.Server | undefined;
  private readonly flows = new Map<number, ProxyFlow>();
  private readonly stats = new StatsBook();
  private readonly countEarly = (result: 'adopted' | 'reset'): void => this.stats.early(result);
  private readonly metrics = new WorkerMetrics();
  /** histograms and the access log (flow-metrics.ts) */
  private readonly observer: FlowObserver;
  readonly functions: FunctionTable;
  private nextId = 1;
  private clock = Date.now();
  private sweep: NodeJS.Timeout | undefined;
  private draining = false;
  private onEmpty: (() => void) | undefined;
  private readonly bindings: BindingLookup | undefined;
  private readonly returnHop: ReturnHop | undefined;
  private readonly admission: Admission;
  private readonly acceptFailures = new AcceptFailures();
  /** rejected flows log a warning per error code, rate-limited (logLimit) */
  private readonly warnings: LogLimiter;
  /** netconf.intercept: sklookup (sklookup.ts) */
  private readonly sklookup: boolean;
  /** config nativeRelay: this worker's relay thread, and the flows' way to it */
  private readonly nativeRelay: NativeRelay | undefined;
  private readonly pairRelay: PairRelay | undefined;
  private readonly pairConnect: PairConnect | undefined;
  private readonly acceptConnect: AcceptConnect | undefined;
  /** what classify/decide need besides the path, made once (not per SYN) */
  private readonly placingOptions: DecideOptions<LoadedFunction>;
  private readonly decideOptions: DecideOptions<LoadedFunction>;
  /** what every flow shares (one object, not a deps object and closures per flow) */
  private readonly flowHost: ProxyFlowDeps;

  constructor(
    private readonly cfg: ProxyConfig,
    private readonly log: Logger,
    /** distinguishes flow ids across workers */
    private readonly workerIndex = 0,
    /** sklookup: where the listener map is (default: the one a forked worker received); workers: 0 passes the primary's */
    private readonly listenerMap: ListenerMapSource | undefined = inheritedListenerMap(),
  ) {
    this.nextId = workerIndex * 1_000_000_000 + 1;
    this.sklookup = cfg.netconf?.intercept === 'sklookup';
    if (cfg.nativeRelay) {
      this.nativeRelay = new NativeRelay(cfg.nativeRelay);
      // under TPROXY the client-facing TIME_WAIT must go (timewait.ts); the relay's thread releases it
      this.nativeRelay.onTimeWait = (result, errno) => countTimeWaitRelease(result, errno, log);
      const how = { releaseTimeWait: !this.sklookup, log };
      this.pairRelay = nativePairRelay(this.nativeRelay, how);
      if (this.nativeRelay.options.connect) this.pairConnect = nativePairConnect(this.nativeRelay, how);
      if (this.nativeRelay.options.connect && this.nativeRelay.options.accept) {
        this.acceptConnect = nativeAcceptConnect(this.nativeRelay, how);
        this.nativeRelay.onAccept = (fd, ca, cp, sa, sp, srh, early) => this.acceptFd(new FdInbound(fd, ca, cp, sa, sp, early, early && this.countEarly), srh);
        this.nativeRelay.onAcceptError = (code) => this.acceptFailed(code);
      }
    }
    if (cfg.bindingSids) this.bindings = new BindingLookup(cfg.bindingSids);
    if (cfg.returnPath) this.returnHop = { id: cfg.returnPath.id, sid: parseAddress(cfg.returnPath.sid) };
    this.admission = new Admission(cfg.limits, cfg.workers);
    this.warnings = new LogLimiter({ burst: cfg.logLimit.burst, intervalMs: cfg.logLimit.intervalMs }, (code, suppressed, intervalMs) =>
      this.log.warn({ code, suppressed, intervalMs }, `flow rejected: ${suppressed} more rejections suppressed`),
    );
    this.observer = new FlowObserver(this.metrics, workerIndex, cfg.accessLog, log);
    // the onward headers (and decisions) the accept learnt came from the table as it was: forgotten
    // whenever an entry changes (ctl load/unload/reload, a config reload)
    this.functions = new FunctionTable({ registry: BUILTINS, baseDir: cfg.baseDir, log, metricsFor: (id, name) => this.metrics.forFunction(id, name) }, () => this.nativeRelay?.earlyForget());
    this.placingOptions = { locators: cfg.locators, lookup: (id) => this.functions.get(id), ...(this.returnHop ? { returnHop: this.returnHop } : {}) };
    this.decideOptions = { ...this.placingOptions, ...(this.bindings ? { bindings: this.bindings } : {}) };
    this.flowHost = {
      log,
      connectTimeoutMs: cfg.timeouts.connect,
      releaseTimeWait: !this.sklookup,
      now: () => this.clock,
      onClosed: (f) => this.flowClosed(f),
      onOpen: (f) => this.observer.opened(f),
      ...(this.pairRelay ? { pairRelay: this.pairRelay } : {}),
      ...(this.pairConnect ? { pairConnect: this.pairConnect } : {}),
      ...(this.acceptConnect ? { acceptConnect: this.acceptConnect } : {}),
    };
  }

  async start(): Promise<void> {
    applyWorkerNofile(this.cfg);
    for (const [i, spec] of this.cfg.functions.entries()) await this.functions.load(spec, `functions[${i}]`, false);
    const fd = listenFd({ address: this.cfg.listen, port: this.cfg.port, reusePort: true, transparent: true, recvRthdr: true, saveSyn: this.sklookup });
    if (this.acceptConnect && this.nativeRelay) {
      // the relay thread accepts (acceptFd); sk_lookup registers the same descriptor (the relay keeps it open)
      this.nativeRelay.listen(fd, this.sklookup);
      this.nativeListener = fd;
    } else {
      this.server = await this.serve(fd, (s) => this.guarded(s, this.accept));
    }
    registerListener(fd, this.workerIndex, this.log, this.listenerMap); // netconf.intercept: sklookup only
    const cport = this.cfg.mptcp?.converterPort;
    if (cport) {
      // AnyIP: the SYN to our SID is delivered locally by the converter's nft rule (netconf.ts);
      // transparent, so the accepted socket may answer from the SID, an address no interface holds
      const cfd = listenFd({ address: '::', port: cport, reusePort: true, transparent: true, protocol: native().constants.IPPROTO_MPTCP });
      this.converter = await this.serve(cfd, (s) => this.guarded(s, this.acceptConverted));
    }
    this.admission.fdCap = fdFlowCap(this.cfg, this.log);
    this.sweep = setInterval(() => this.tick(), this.tickMs);
    this.sweep.unref();
  }

  private async serve(fd: number, onConnection: (s: net.Socket) => void): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    server.on('connection', onConnection);
    server.on('error', (e) => this.listenerError(e));
    await serveFd(server, fd);
    return server;
  }

  /** A failed accept (EMFILE, ENFILE…) is counted as ACCEPT_FAILED and logged at most every 5 s; the listener goes on. */
  private listenerError(e: Error): void {
    if (!AcceptFailures.isAcceptError(e)) {
      this.log.error({ err: e }, 'listener error');
      return;
    }
    this.acceptFailed((e as NodeJS.ErrnoException).code ?? 'accept');
  }

  private acceptFailed(code: string): void {
    this.stats.reject('ACCEPT_FAILED');
    const line = this.acceptFailures.record(code);
    if (line) this.log.error(line, 'accept failed: connections are being refused (descriptor limit? see limits.nofile)');
  }

  /**
   * No single flow's error may end the worker: whatever a connection's handling throws, there or in a
   * promise it starts, resets that connection, counted as INTERNAL and logged with its stack.
   */
  private guarded(socket: net.Socket, fn: (this: ProxyWorker, s: net.Socket) => void | Promise<void>): void {
    try {
      const p = fn.call(this, socket);
      if (p) p.catch((e: unknown) => this.internalError(socket, e));
    } catch (e) {
      this.internalError(socket, e);
    }
  }

  private internalError(socket: Inbound, e: unknown): void {
    this.stats.reject('INTERNAL');
    if (this.warnings.allow('INTERNAL')) this.log.error({ err: e, client: `[${socket.remoteAddress}]:${socket.remotePort}` }, 'flow failed: internal error (a bug)');
    resetSocket(socket);
  }

  /**
   * A flow converted to MPTCP by a customer-side converter: the stream starts with the converter
   * header, which says what the client's SYN said. Its SID picks our function as if the SYN had come
   * with the SRH [SID, segments..., server]; the flow then goes on as any other, from the client's address.
   */
  private acceptConverted(socket: net.Socket): Promise<void> | undefined {
    socket.on('error', ignoreError); // until the flow takes over
    // the header names any client address: only the configured customer-side converters may send one
    const peer = socket.remoteAddress ?? '::';
    if (!this.cfg.mptcp?.converterFrom.some((p) => prefixContains(p, parseAddress(peer)))) {
      this.reject(socket, 'CONVERT_FORBIDDEN', `converter connection from ${peer}, not in mptcp.converter.from`);
      return undefined;
    }
    return readConvertHeader(socket, this.cfg.timeouts.connect).then(
      (h) => {
        const syn = convertedPath(h);
        const d = syn.ok ? classify({ syn, ...this.placingOptions }) : syn;
        if (!d.ok) this.reject(socket, d.code, `converted flow: ${d.reason}`);
        // the MPTCP connection's peer is CP itself, not the client: its replies need no return SRH
        else {
          const { replyVia: _unused, ...placed } = d;
          this.startFlow(socket, { ...placed, replySrh: null }, h.client, h.server);
        }
      },
      (e: unknown) => this.reject(socket, isSrError(e) ? e.code : 'CONVERT_TRUNCATED', (e as Error).message),
    );
  }

  /** The coarse clock's period: a quarter of the idle timeout, within 50 ms .. 1 s. */
  private get tickMs(): number {
    const idle = this.cfg.timeouts.idle;
    return idle > 0 ? Math.min(1000, Math.max(50, Math.floor(idle / 4))) : 1000;
  }

  private tick(): void {
    this.clock = Date.now();
    const idle = this.cfg.timeouts.idle;
    if (idle <= 0) return;
    // activity is stamped with the coarse clock (up to one tick old): never reset a flow early
    expireIdle([...this.flows.values()].map((f) => f.flow), this.clock, idle + this.tickMs);
  }

  private accept(socket: net.Socket): Promise<void> | undefined {
    socket.on('error', ignoreError); // until the flow takes over
    let srh: Buffer | null;
    try {
      // sk_lookup: a SYN that replaced a TIME_WAIT has no packet options, but its saved SYN (saved-syn.ts)
      const saved = this.sklookup ? savedSynRoutingHeader(socket) : undefined;
      srh = saved !== undefined ? saved : synRoutingHeader(socket);
    } catch (e) {
      this.reject(socket, 'CMSG_MALFORMED', e instanceof Error ? e.message : String(e));
      return undefined;
    }
    return this.decideSyn(socket, srh);
  }

  /**
   * nativeRelay.accept: a connection the relay thread accepted, its SYN's SRH read there (a string:
   * why it is malformed). The same decision as `accept`; the flow starts on the descriptor.
   */
  private acceptFd(inbound: FdInbound, srh: Buffer | null | string): void {
    try {
      if (typeof srh === 'string') {
        this.reject(inbound, 'CMSG_MALFORMED', srh);
        return;
      }
      const p = this.decideSyn(inbound, srh);
      if (p) p.catch((e: unknown) => this.internalError(inbound, e));
    } catch (e) {
      this.internalError(inbound, e);
    }
  }

  private decideSyn(socket: Inbound, srh: Buffer | null): Promise<void> | undefined {
    // the same header, byte for byte, as a decision taken before (the early socket's memo, forgotten
    // when the functions change): that decision again, without decoding the header anew
    const memo = socket instanceof FdInbound ? (socket.earlyOnward?.memo as Accepted<LoadedFunction> | undefined) : undefined;
    if (memo && socket instanceof FdInbound) {
      socket.fromMemo = true;
      return this.place(socket, memo);
    }
    const syn = synPath(srh);
    if (!syn.ok) {
      this.reject(socket, syn.code, syn.reason);
      return undefined;
    }
    // the binding-SID expansion, when it runs, is asynchronous: the socket stays paused meanwhile
    const d = decide(syn, this.decideOptions);
    if (!(d instanceof Promise)) {
      // decided from the SYN's header alone: a native flow may teach the accept its onward header
      if (srh && socket instanceof FdInbound && d.ok) {
        socket.syn = srh;
        socket.decision = d;
      }
      return this.place(socket, d);
    }
    const since = performance.now();
    return d.then((x) => {
      this.observer.lookedUp(since, x.ok);
      return this.place(socket, x);
    });
  }

  private place(socket: Inbound, d: Decision<LoadedFunction>): undefined {
    if (d.ok) this.startFlow(socket, d);
    else this.reject(socket, d.code, d.reason);
    return undefined;
  }

  private startFlow(
    socket: Inbound,
    d: Accepted<LoadedFunction>,
    client = { address: socket.remoteAddress ?? '::', port: socket.remotePort ?? 0 },
    server = { address: socket.localAddress ?? '::', port: socket.localPort ?? 0 },
  ): void {
    const refused = refuseStart(this.draining, client.address, server.address);
    if (refused) {
      this.reject(socket, refused.code, refused.reason);
      return;
    }
    const admitted = this.admission.admit(client.address, d.functionId);
    if (!admitted.ok) {
      this.reject(socket, admitted.code, admitted.reason);
      return;
    }
    this.stats.accepted++;
    const flow = new ProxyFlow(this.nextId++, socket, d, client, server, this.stats.fn(d.functionId, d.entry.name), this.flowHost, admitted.release);
    this.flows.set(flow.id, flow);
    try {
      flow.start();
    } catch (e) {
      this.stats.reject('INTERNAL');
      this.log.error({ err: e, flow: flow.id }, 'flow failed: internal error (a bug)');
      flow.fail({ kind: 'internal_error', error: e });
    }
  }

  private flowClosed(f: ProxyFlow): void {
    this.observer.closed(f);
    this.flows.delete(f.id);
    if (this.flows.size === 0) this.onEmpty?.();
  }

  private reject(socket: Inbound, code: ErrorCode, reason: string): void {
    this.stats.reject(code);
    // its onward socket was started before the decision: the next hop sees a reset; no more for a while
    if (socket instanceof FdInbound && socket.earlyOnward) this.nativeRelay?.earlyRefused();
    if (this.warnings.allow(code)) {
      this.log.warn(
        { code, reason, client: `[${socket.remoteAddress}]:${socket.remotePort}`, server: `[${socket.localAddress}]:${socket.localPort}` },
        'flow rejected',
      );
    }
    resetSocket(socket);
  }

  /**
   * The worker is going down at once (a bug): every flow is reset, synchronously, so that no peer
   * takes a truncated stream for a complete one. (A flow's sockets carry SO_LINGER 0 from its start,
   * so even a worker killed outright resets them.)
   */
  resetAll(end: FlowEnd): void {
    for (const f of [...this.flows.values()]) f.fail(end);
    this.warnings.stop();
  }

  flowTable(): FlowRecord[] {
    const now = Date.now();
    return [...this.flows.values()].map((f) => f.record(now));
  }

  /** A bug caught at the process level (worker-main.ts): counted with the worker's stats. */
  countBug(kind: string): void {
    this.stats.bug(kind);
  }

  statsSnapshot(): ProxyStats {
    return this.stats.snapshot();
  }

  metricsSnapshot(): Promise<MetricsJson> {
    return this.metrics.snapshot();
  }

  /** logrotate (the primary's SIGHUP): the access log reopened */
  reopenLogs(): void {
    this.observer.reopen();
  }

  listFunctions(): FunctionInfo[] {
    return this.functions.list();
  }

  applyFunctions(specs: FunctionSpec[]): ReturnType<FunctionTable['apply']> {
    return this.functions.apply(specs, this.cfg.timeouts.drain);
  }

  get activeFlows(): number {
    return this.flows.size;
  }

  /** Stops accepting; waits for the flows to end, up to the deadline; then resets what is left. */
  async drain(deadlineMs: number): Promise<{ remaining: number }> {
    if (this.draining) return { remaining: this.flows.size };
    this.draining = true;
    clearInterval(this.sweep);
    // stop accepting at once; close()'s callback would wait for every accepted connection (every
    // flow) to end, and the deadline below would never start
    for (const s of [this.server, this.converter]) s?.close();
    if (this.nativeListener !== undefined) this.nativeRelay?.unlisten(this.nativeListener);
    if (this.flows.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const remaining = this.flows.size;
    for (const f of [...this.flows.values()]) f.fail({ kind: 'drain_deadline' });
    // the aborts above are queued to the thread; close() resets whatever it still holds, then stops it
    this.nativeRelay?.close();
    this.warnings.stop();
    await this.functions.close();
    await this.observer.close();
    return { remaining };
  }
}
