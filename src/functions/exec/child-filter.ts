/**
 * A Unix filter process as a Duplex: bytes written go to the child's stdin, the child's stdout is
 * what is read. Back-pressure is stdin's (a write completes when stdin takes it) and ours (stdout is
 * paused while our readable side is full). No shell: argv is exec'd directly.
 *
 * The child leads its own process group, so termination reaches whatever it started (a pipeline in
 * `sh -c`): SIGTERM to the group, SIGKILL after a grace. Termination happens when the Duplex is
 * destroyed or `terminate()` is called (the flow's abort signal), and, as a last resort, when the
 * proxy's process exits. Stragglers of a leader that exited on its own are signalled too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Duplex } from 'node:stream';
import { errnoCode } from '../../core/errors.js';

export interface ChildFailure {
  /** exit code, when it exited */
  code: number | null;
  /** the signal that killed it, when one did */
  signal: NodeJS.Signals | null;
  /** a spawn or pipe error (e.g. ENOENT) */
  error?: string;
  /** the process never started (spawn failed: ENOENT, EMFILE, EAGAIN…) */
  spawnFailed?: boolean;
  /** the last bytes it wrote to stderr */
  stderr: string;
}

export interface ChildFilterOptions {
  argv: readonly string[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
  /** ms between SIGTERM and SIGKILL */
  graceMs: number;
  /** a complete stderr line */
  onStderrLine(line: string): void;
  /** the child failed (not called when we terminated it) */
  onFailure(f: ChildFailure): void;
}

const STDERR_TAIL = 2048;
const MAX_LINE = 4096;

/** filters whose process group may still exist: killed if the proxy's process exits */
const live = new Set<ChildFilter>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const f of live) signalGroup(f.pid, 'SIGKILL');
  });
}

/** Signals a process group; false when it no longer exists. */
export function signalGroup(pid: number | undefined, sig: NodeJS.Signals | 0): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, sig);
    return true;
  } catch (e) {
    // EPERM: the group exists but has a member we may not signal (a setuid program); nothing more to do
    return errnoCode(e) !== 'ESRCH';
  }
}

export class ChildFilter extends Duplex {
  readonly child: ChildProcess;
  private terminating = false;
  private reported = false;
  private stdinGone = false;
  private pendingWrite: (() => void) | undefined;
  private stderrTail = '';
  private partialLine = '';

  constructor(private readonly o: ChildFilterOptions) {
    super({ highWaterMark: 64 * 1024 });
    installExitHook();
    const [file, ...args] = o.argv;
    this.child = spawn(file!, args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    if (this.child.pid !== undefined) live.add(this);
    this.child.on('error', (e) => this.fail({ code: null, signal: null, error: errnoCode(e) ?? e.message, spawnFailed: this.child.pid === undefined }));
    const { stdin, stdout, stderr } = this.child;
    if (!stdin || !stdout || !stderr) {
      // no process (Node gives no pipes at EMFILE/ENFILE): its 'error' event reports why, on the next tick
      this.stdinGone = true;
      return;
    }
    this.child.on('close', (code, signal) => {
      if (code === 0) this.push(null);
      else this.fail({ code, signal });
    });
    stdin!.on('error', (e) => {
      // the child stopped reading (it exited, or closed stdin like `head`): discard further input
      this.stdinGone = true;
      const c = errnoCode(e);
      if (c !== 'EPIPE' && c !== 'ECONNRESET' && c !== 'ERR_STREAM_DESTROYED') this.fail({ code: null, signal: null, error: c ?? e.message });
    });
    stdin!.on('close', () => {
      this.stdinGone = true;
      this.releaseWrite();
    });
    stdin!.on('drain', () => this.releaseWrite());
    stdout!.on('data', (d: Buffer) => {
      if (!this.push(d)) stdout!.pause();
    });
    stderr!.setEncoding('utf8'); // a StringDecoder: characters split across reads stay whole
    stderr!.on('data', (d: string) => this.onStderr(d));
    stderr!.on('end', () => {
      if (this.partialLine) this.o.onStderrLine(this.partialLine);
      this.partialLine = '';
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const stdin = this.child.stdin;
    if (!stdin || this.stdinGone || stdin.destroyed) return cb();
    if (stdin.write(chunk)) cb();
    else this.pendingWrite = () => cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    const stdin = this.child.stdin;
    if (stdin && !this.stdinGone && !stdin.destroyed) stdin.end();
    cb();
  }

  override _read(): void {
    this.child.stdout?.resume();
  }

  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.terminate();
    this.releaseWrite();
    cb(err);
  }

  /** SIGTERM to the child's group now, SIGKILL to what is left of it after the grace: idempotent. */
  terminate(): void {
    if (this.terminating) return;
    this.terminating = true;
    const pid = this.child.pid;
    if (!signalGroup(pid, 'SIGTERM')) {
      live.delete(this);
      return;
    }
    const deadline = Date.now() + this.o.graceMs;
    const poll = setInterval(() => {
      if (signalGroup(pid, 0) && Date.now() < deadline) return;
      signalGroup(pid, 'SIGKILL');
      clearInterval(poll);
      live.delete(this);
    }, Math.max(1, Math.min(50, this.o.graceMs)));
  }

  private releaseWrite(): void {
    const w = this.pendingWrite;
    this.pendingWrite = undefined;
    w?.();
  }

  private onStderr(s: string): void {
    this.stderrTail = (this.stderrTail + s).slice(-STDERR_TAIL);
    const lines = (this.partialLine + s).split('\n');
    this.partialLine = lines.pop() ?? '';
    if (this.partialLine.length > MAX_LINE) {
      lines.push(this.partialLine);
      this.partialLine = '';
    }
    for (const l of lines) this.o.onStderrLine(l.length > MAX_LINE ? `${l.slice(0, MAX_LINE)}…` : l);
  }

  private fail(f: Omit<ChildFailure, 'stderr'>): void {
    if (this.reported || this.terminating) return;
    this.reported = true;
    this.o.onFailure({ ...f, stderr: this.stderrTail });
  }
}
