#!/usr/bin/env node
/**
 * Attribution of a `perf record -g` profile of a proxy worker (taken with Node's --perf-basic-prof),
 * from `perf script` text: where each sample's own frame is (kernel under which syscall, libuv, V8,
 * Node's streams, our modules…), and the inclusive share of our JavaScript functions and of a few
 * marked frames. Prints Markdown tables (docs/performance.md, issue 14).
 *
 *   perf script -i perf-1KB.data -F tid,ip,sym,dso | node scripts/perf-attribute.mjs [--top 25] [--json out.json]
 */
import { createInterface } from 'node:readline';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: { top: { type: 'string', default: '25' }, json: { type: 'string' }, title: { type: 'string', default: '' } } });
const TOP = Number(a.top);

/** the libc wrapper under which a kernel frame runs → the syscall's name */
function syscallOf(userLeaf) {
  const s = userLeaf.replace(/^__GI___libc_|^__GI___|^__libc_|^__|^GI_/, '').replace(/64$/, '').replace(/\+0x.*$/, '');
  return s || 'unknown';
}

/** our module for a JS frame's script, or a Node area */
function jsArea(sym) {
  const m = /file:\/\/\/.*?\/dist\/src\/([^:]+):/.exec(sym);
  if (m) return `ours: ${m[1].replace(/\.js$/, '.ts')}`;
  if (/node_modules\/([^/]+)/.test(sym)) return `dependency: ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(sym)[1]}`;
  if (/node:internal\/streams\//.test(sym)) return 'Node streams (JS)';
  if (/node:net:|node:internal\/net|stream_base_commons/.test(sym)) return 'Node net (JS)';
  if (/node:events:/.test(sym)) return 'Node events (JS)';
  if (/node:internal\/(timers|process\/task_queues)|node:timers/.test(sym)) return 'Node timers/ticks (JS)';
  return 'Node other (JS)';
}

function selfCategory(frames) {
  const leaf = frames[0];
  if (!leaf) return 'unknown';
  if (leaf.dso === '[kernel.kallsyms]') {
    const user = frames.find((f) => f.dso !== '[kernel.kallsyms]');
    if (!frames.some((f) => f.sym === 'do_syscall_64' || f.sym.startsWith('entry_SYSCALL'))) return 'kernel: no syscall (irq, softirq, scheduling)';
    return `kernel: ${user ? syscallOf(user.sym) : 'syscall'}`;
  }
  if (leaf.dso.startsWith('/tmp/perf-') || leaf.dso.startsWith('[JIT]') || /\/jitted-\d+-\d+\.so$/.test(leaf.dso)) return `JS ${jsArea(leaf.sym)}`;
  if (/srv6pipes_native/.test(leaf.dso)) return 'native addon';
  if (/libc\.so/.test(leaf.dso)) return /malloc|free|_int_|unlink_chunk|tcache|calloc|realloc|memalign/.test(leaf.sym) ? 'libc malloc/free' : /^mem(cpy|move|set)|__mem/.test(leaf.sym) ? 'libc memcpy/memset' : 'libc other';
  if (leaf.dso.endsWith('/node') || leaf.dso === 'node') {
    const s = leaf.sym;
    if (/^uv_|^uv__/.test(s)) return 'libuv';
    if (/Scaveng|Sweep|MarkCompact|Marking|Heap::|GCTracer|Evacuat|ConcurrentMark|MinorMC|LocalHeap|PagedSpace|NewSpace|MemoryAllocator|ArrayBufferSweeper/.test(s)) return 'V8 GC / heap';
    if (/^Builtins_/.test(s)) return 'V8 builtins (interpreter, ICs, runtime stubs)';
    if (/^v8::|^Runtime_|^v8_/.test(s)) return 'V8 runtime / API';
    if (/^node::/.test(s)) return 'Node C++ (bindings, StreamBase, TCPWrap)';
    return 'node binary, other';
  }
  if (/libstdc\+\+|libgcc|ld-linux|libpthread|libm\./.test(leaf.dso)) return 'C/C++ runtime libraries';
  return `other: ${leaf.dso}`;
}

/** a readable name for a JS frame: "relay.ts:19 (anonymous)" */
function jsName(sym) {
  const m = /^JS:([*~^+-]?)(\S*) (.*):(\d+):(\d+)$/.exec(sym);
  if (!m) return sym;
  const file = m[3].replace(/^file:\/\/\/.*?\/dist\/src\//, '').replace(/\.js$/, '.ts').replace(/^node:/, 'node:');
  return `${m[2] || '(anonymous)'} ${file}:${m[4]}`;
}

const MARKS = [
  ['any frame in our modules (dist/src)', (f) => /dist\/src\//.test(f.sym)],
  ['sdk/relay.ts handlers', (f) => /dist\/src\/sdk\/relay\.js/.test(f.sym)],
  ['sdk/flow.ts (Flow)', (f) => /dist\/src\/sdk\/flow\.js/.test(f.sym)],
  ['proxy/flow.ts (ProxyFlow, carrier, resets)', (f) => /dist\/src\/proxy\/flow\.js/.test(f.sym)],
  ['proxy/worker.ts (accept path)', (f) => /dist\/src\/proxy\/worker\.js/.test(f.sym)],
  ['native addon (srv6pipes_native.node)', (f) => /srv6pipes_native/.test(f.dso)],
  ['pino (logging)', (f) => /node_modules\/pino/.test(f.sym) || /pino/.test(f.sym)],
  ['V8 GC anywhere in the stack', (f) => /Scaveng|Heap::CollectGarbage|MarkCompact|ArrayBufferSweeper|Sweeper/.test(f.sym)],
  ['Node net.Socket constructor / connect', (f) => /JS:\S*(Socket|connect|internalConnect|lookupAndConnect) node:net/.test(f.sym)],
  ['Node onconnection (accept callback)', (f) => /onconnection/.test(f.sym)],
  ['Node socket destroy/close path', (f) => /JS:\S*(destroy|_destroy|close|emitCloseNT) node:(net|internal\/streams\/destroy)/.test(f.sym)],
  ['syscall: read', (f) => /libc_read$|^read$|__GI___libc_read/.test(f.sym)],
  ['syscall: write/writev', (f) => /libc_write|writev/.test(f.sym)],
  ['syscall: epoll_wait/epoll_ctl', (f) => /epoll/.test(f.sym)],
  ['syscall: setsockopt/getsockopt', (f) => /setsockopt|getsockopt/.test(f.sym)],
  ['syscall: accept4', (f) => /accept/.test(f.sym) && f.dso !== '[kernel.kallsyms]'],
  ['syscall: connect', (f) => /^__libc_connect|^connect$|__connect/.test(f.sym) && f.dso !== '[kernel.kallsyms]'],
  ['syscall: close', (f) => /^__close|^close$|__GI___close/.test(f.sym) && f.dso !== '[kernel.kallsyms]'],
  ['syscall: socket/bind', (f) => /^(__)?socket$|^bind$|__bind/.test(f.sym) && f.dso !== '[kernel.kallsyms]'],
];

/** a kernel sample: which part of the kernel's work it is */
function kernelPart(frames) {
  const has = (re) => frames.some((f) => f.dso === '[kernel.kallsyms]' && re.test(f.sym));
  const leaf = frames[0].sym;
  if (/copy_(to|from)_iter|copy_user|rep_movs|memcpy/.test(leaf)) return 'copy (user <-> kernel)';
  if (has(/net_rx_action|process_backlog|__netif_receive_skb/)) return 'softirq delivery (the lab: veth receive, the peer socket\'s TCP receive, ACKs)';
  if (has(/^(__)?schedule$|finish_task_switch|^schedule_hrtimeout/)) return 'scheduling (sleep/wake)';
  if (has(/tcp_sendmsg|tcp_write_xmit|__tcp_transmit_skb|ip6_xmit|ip6_output|veth_xmit|dev_queue_xmit/)) return 'TCP/IPv6 transmit';
  if (has(/tcp_recvmsg|tcp_rcv|tcp_cleanup_rbuf|sock_recvmsg/)) return 'TCP receive (recvmsg)';
  if (has(/ep_poll|ep_send_events|ep_item_poll|sock_poll|do_epoll|ep_insert|ep_remove/)) return 'epoll';
  if (has(/inet_csk_accept|__sys_accept|do_accept/)) return 'accept';
  if (has(/tcp_v6_connect|__sys_connect|inet_stream_connect/)) return 'connect';
  if (has(/setsockopt|getsockopt/)) return 'setsockopt/getsockopt';
  if (has(/__sys_socket|__sys_bind|inet6_bind/)) return 'socket/bind';
  if (has(/__fput|sock_close|tcp_close|inet_release|__x64_sys_close/)) return 'close';
  if (has(/kmem_cache|kmalloc|kfree|slab|__alloc_skb|page_frag/)) return 'allocation (slab, skb)';
  if (has(/entry_SYSCALL|do_syscall_64|syscall_exit|exit_to_user_mode/)) return 'syscall entry/exit, other';
  return 'other';
}

/** per nearest JavaScript frame: [all samples, of which kernel] */
const nearest = new Map();
const self = new Map();
const kparts = new Map();
const inclusiveOurs = new Map();
const inclusiveJs = new Map();
const marks = new Map(MARKS.map(([k]) => [k, 0]));
let total = 0;
let frames = [];

function flush() {
  if (frames.length === 0) return;
  total++;
  const c = selfCategory(frames);
  self.set(c, (self.get(c) ?? 0) + 1);
  if (frames[0].dso === '[kernel.kallsyms]') {
    const k = kernelPart(frames);
    kparts.set(k, (kparts.get(k) ?? 0) + 1);
  }
  const js = frames.find((f) => f.sym.startsWith('JS:'));
  const key = js ? jsName(js.sym) : '(no JavaScript frame: event loop, GC threads, libuv)';
  const e = nearest.get(key) ?? [0, 0];
  e[0]++;
  if (frames[0].dso === '[kernel.kallsyms]') e[1]++;
  nearest.set(key, e);
  const seenOurs = new Set();
  const seenJs = new Set();
  for (const f of frames) {
    if (!f.sym.startsWith('JS:')) continue;
    const n = jsName(f.sym);
    if (/dist\/src\//.test(f.sym)) seenOurs.add(n);
    seenJs.add(n);
  }
  for (const n of seenOurs) inclusiveOurs.set(n, (inclusiveOurs.get(n) ?? 0) + 1);
  for (const n of seenJs) inclusiveJs.set(n, (inclusiveJs.get(n) ?? 0) + 1);
  for (const [k, test] of MARKS) if (frames.some(test)) marks.set(k, marks.get(k) + 1);
  frames = [];
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.startsWith('\t') && !line.startsWith(' ')) {
    flush();
    continue;
  }
  const m = /^\s*[0-9a-f]+ (.*) \(([^)]*)\)$/.exec(line);
  if (!m) continue;
  frames.push({ sym: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] });
}
flush();

const pct = (n) => `${((100 * n) / total).toFixed(1)} %`;
const table = (title, head, rows) => {
  console.log(`\n${title}\n\n| ${head} | share |\n|---|---|`);
  for (const [k, v] of rows) console.log(`| ${k.replace(/\|/g, '\\|')} | ${pct(v)} |`);
};
const sorted = (m) => [...m.entries()].sort((x, y) => y[1] - x[1]);
console.log(`${a.title} — ${total} samples`);
table('Self time by area (the frame the sample was in; kernel by the syscall it ran under)', 'area', sorted(self));
table('Kernel self time by part (share of all samples)', 'kernel part', sorted(kparts));
console.log(`\nBy nearest JavaScript frame: self time of the function plus the V8, Node C++, libc and kernel work below it (top ${TOP})\n\n| function | share | of which kernel |\n|---|---|---|`);
for (const [k, [n, kn]] of [...nearest.entries()].sort((x, y) => y[1][0] - x[1][0]).slice(0, TOP)) console.log(`| ${k.replace(/\|/g, '\\|')} | ${pct(n)} | ${pct(kn)} |`);
table('Inclusive: marked frames anywhere in the stack', 'frame', [...marks.entries()]);
table(`Inclusive: our JavaScript functions (top ${TOP})`, 'function (dist/src)', sorted(inclusiveOurs).slice(0, TOP));
table(`Inclusive: any JavaScript function (top ${TOP})`, 'function', sorted(inclusiveJs).slice(0, TOP));
if (a.json) writeFileSync(a.json, JSON.stringify({ total, self: Object.fromEntries(self), kernelParts: Object.fromEntries(kparts), marks: Object.fromEntries(marks), nearest: Object.fromEntries([...nearest.entries()].sort((x, y) => y[1][0] - x[1][0]).slice(0, 200)), inclusiveOurs: Object.fromEntries(sorted(inclusiveOurs)), inclusiveJs: Object.fromEntries(sorted(inclusiveJs).slice(0, 200)) }, null, 1));
