/**
 * The soak's traffic, run inside lab namespaces (src/bench/soak.ts):
 *   node soak-peer.js server PORT           an echo server (half-close aware); a summary line on SIGTERM
 *   node soak-peer.js client N BYTES SIDS   opens N flows over the path SIDS (comma-separated), sends
 *                                           half of BYTES on each; on a "finish" line on stdin sends the
 *                                           other half, ends, and checks each echo by sha256
 *   node soak-peer.js flood SIDS MS MAX C   connects over SIDS (an unknown function) with C at once for
 *                                           MS ms or MAX attempts, whichever first; counts outcomes
 * Every line on stdout is JSON. Loops are bounded in time and count.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { connect } from '../client/connect.js';

const SERVER = 'fc00:2::2';
const PORT = 9000;
const out = (o: object): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

function server(port: number): void {
  let conns = 0;
  let open = 0;
  let bytes = 0;
  const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    conns++;
    open++;
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      if (!s.write(d)) {
        s.pause();
        s.once('drain', () => s.resume());
      }
    });
    s.on('end', () => s.end());
    s.on('error', () => undefined);
    s.on('close', () => open--);
  });
  srv.listen({ host: '::', port, backlog: 4096 }, () => out({ event: 'listening', port }));
  process.on('SIGTERM', () => {
    out({ event: 'summary', conns, open, bytes });
    process.exit(0);
  });
}

interface Flow {
  sock: net.Socket;
  tx: ReturnType<typeof createHash>;
  rx: ReturnType<typeof createHash>;
  received: number;
  /** how the flow ended before we asked it to (lost), or after */
  error?: string;
  ended: Promise<void>;
}

async function client(n: number, bytes: number, sids: string[]): Promise<void> {
  const half = Math.floor(bytes / 2);
  const flows: Flow[] = [];
  const failedOpen: Record<string, number> = {};
  let finishing = false;
  const lostEarly: Record<string, number> = {};
  const t0 = Date.now();
  const open = async (): Promise<void> => {
    let sock: net.Socket;
    try {
      sock = await connect({ host: SERVER, port: PORT, segments: sids, timeoutMs: 15000, allowHalfOpen: true });
    } catch (e) {
      const c = (e as NodeJS.ErrnoException).code ?? String(e);
      failedOpen[c] = (failedOpen[c] ?? 0) + 1;
      return;
    }
    const f: Flow = { sock, tx: createHash('sha256'), rx: createHash('sha256'), received: 0, ended: Promise.resolve() };
    f.ended = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        f.rx.update(d);
        f.received += d.length;
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        f.error ??= e.code ?? e.message;
        if (!finishing) lostEarly[f.error] = (lostEarly[f.error] ?? 0) + 1;
      });
      sock.on('close', () => {
        if (!finishing && !f.error) {
          f.error = 'closed_early';
          lostEarly[f.error] = (lostEarly[f.error] ?? 0) + 1;
        }
        resolve();
      });
    });
    const first = randomBytes(half);
    f.tx.update(first);
    sock.write(first);
    flows.push(f);
  };
  // open in batches: a burst of 10k SYNs would only overflow accept queues
  const batch = 256;
  for (let i = 0; i < n; i += batch) await Promise.all(Array.from({ length: Math.min(batch, n - i) }, open));
  out({ event: 'opened', flows: flows.length, failedOpen, ms: Date.now() - t0 });
  const rl = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => rl.on('line', (l) => l.trim() === 'finish' && resolve()));
  rl.close();
  const lostBeforeFinish = { ...lostEarly };
  finishing = true;
  const t1 = Date.now();
  for (const f of flows) {
    if (f.error) continue;
    const second = randomBytes(bytes - half);
    f.tx.update(second);
    f.sock.end(second);
  }
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, 120_000).unref());
  await Promise.race([Promise.all(flows.map((f) => f.ended)), deadline]);
  let verified = 0;
  let mismatched = 0;
  let short = 0;
  const errors: Record<string, number> = {};
  for (const f of flows) {
    if (f.error) errors[f.error] = (errors[f.error] ?? 0) + 1;
    else if (f.received !== bytes) short++;
    else if (f.rx.digest('hex') !== f.tx.digest('hex')) mismatched++;
    else verified++;
    f.sock.destroy();
  }
  out({ event: 'done', flows: flows.length, verified, mismatched, short, errors, lostBeforeFinish, finishMs: Date.now() - t1 });
  process.exit(0);
}

async function flood(sids: string[], ms: number, max: number, concurrency: number): Promise<void> {
  const end = Date.now() + ms;
  let attempts = 0;
  const outcomes: Record<string, number> = {};
  const worker = async (): Promise<void> => {
    while (Date.now() < end && attempts < max) {
      attempts++;
      let outcome: string;
      try {
        const s = await connect({ host: SERVER, port: PORT, segments: sids, timeoutMs: 5000 });
        outcome = await new Promise<string>((resolve) => {
          s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
          s.on('close', () => resolve('closed'));
          s.on('data', () => resolve('data'));
          s.write('x');
          setTimeout(() => resolve('no_answer_5s'), 5000).unref();
        });
        s.destroy();
      } catch (e) {
        outcome = (e as NodeJS.ErrnoException).code ?? String(e);
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  out({ event: 'flood', attempts, outcomes, ms: Date.now() - t0, perSecond: Math.round((attempts * 1000) / Math.max(1, Date.now() - t0)) });
  process.exit(0);
}

const [mode, ...a] = process.argv.slice(2);
if (mode === 'server') server(Number(a[0] ?? PORT));
else if (mode === 'client') void client(Number(a[0]), Number(a[1]), String(a[2]).split(','));
else if (mode === 'flood') void flood(String(a[0]).split(','), Number(a[1]), Number(a[2]), Number(a[3]));
else {
  process.stderr.write('usage: soak-peer.js server PORT | client N BYTES SIDS | flood SIDS MS MAX CONCURRENCY\n');
  process.exit(2);
}
