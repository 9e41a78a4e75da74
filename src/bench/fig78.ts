/**
 * Figs. 7 and 8 — loss and latency. The Fig. 5 lab (client — m1 — server) with emulated links
 * (src/lab/linkemu: a userspace delay line in a middle namespace; loss by nftables numgen at each
 * receiving end): Fig. 7 with 1 % loss + 25 ms on every link, Fig. 8 with 2 % + 50 ms on the
 * m1–server link only. m1 routes, or splits every connection with the srv6pipes proxy (`copy`): the
 * PEP effect, each half has a shorter RTT and recovers from its own losses.
 *
 * Before measuring, each scenario verifies the links: a ping train from client to server must show
 * at least the configured round-trip delay (and not much more), and a loss rate inside a wide
 * binomial band around the configured one; otherwise the figure fails (LINK_EMULATION_FAILED).
 * After measuring, the emulators' and the loss chains' counters go into the points and the notes.
 */
import { SrError } from '../core/errors.js';
import type { Lab, LinkStatus } from '../lab/index.js';
import { delayMicros, lossBasisPoints } from '../lab/schema.js';
import { router, srv6pipesProxy, steer, type Contender } from './contenders.js';
import { FIG5, impairedTopology, routeCongestionControl, sid, type Impairment } from './labs.js';
import { measurePages } from './measure.js';
import { startLighttpd } from './pages.js';
import { record } from './stats.js';
import type { BenchContext, Figure, Point } from './types.js';

export interface LossScenario {
  id: string;
  /** the scenario key in points and plots */
  scenario: string;
  title: string;
  what: string;
  /** per Fig. 5 link: [client–m1, m1–server] */
  links: [Impairment | undefined, Impairment | undefined];
}

export const LOSS_SCENARIOS: LossScenario[] = [
  {
    id: 'fig7',
    scenario: '1%+25ms every link',
    title: 'Fig. 7 — 1 % loss and 25 ms delay on every link: router vs srv6pipes (copy)',
    what: 'The Fig. 5 lab with both links emulated: 25 ms one-way delay and 1 % random loss in each direction (RTT client–server 100 ms). m1 routes, or splits the connection with the srv6pipes `copy` proxy.',
    links: [
      { delay: '25ms', loss: '1%' },
      { delay: '25ms', loss: '1%' },
    ],
  },
  {
    id: 'fig8',
    scenario: '2%+50ms m1-server',
    title: 'Fig. 8 — 2 % loss and 50 ms delay on the proxy–server link: router vs srv6pipes (copy)',
    what: 'The Fig. 5 lab with only the m1–server link emulated: 50 ms one-way delay and 2 % random loss in each direction (RTT 100 ms); client–m1 is a plain link. m1 routes, or splits the connection with the srv6pipes `copy` proxy.',
    links: [undefined, { delay: '50ms', loss: '2%' }],
  },
];

/** What a ping train client → server → client should see over these links. */
export function expectedPath(links: (Impairment | undefined)[]): { rttMs: number; loss: number } {
  let oneWayUs = 0;
  let delivered = 1;
  for (const l of links) {
    if (!l) continue;
    oneWayUs += delayMicros(l.delay);
    const p = lossBasisPoints(l.loss) / 10000;
    delivered *= (1 - p) * (1 - p); // there and back
  }
  return { rttMs: (2 * oneWayUs) / 1000, loss: 1 - delivered };
}

export interface PingResult {
  sent: number;
  received: number;
  minMs: number;
  avgMs: number;
  maxMs: number;
}

/** `ping -q` summary lines → counts and RTTs (undefined when they are missing). */
export function parsePing(out: string): PingResult | undefined {
  const c = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const r = /rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\//.exec(out);
  if (!c) return undefined;
  const sent = Number(c[1]);
  const received = Number(c[2]);
  if (received > 0 && !r) return undefined;
  return { sent, received, minMs: r ? Number(r[1]) : NaN, avgMs: r ? Number(r[2]) : NaN, maxMs: r ? Number(r[3]) : NaN };
}

/** Does a ping train match the expectation? Lenient on a loaded machine: nothing may arrive earlier
 *  than the delay (1 % and 0.2 ms of slack for clocks), the fastest may be up to 25 ms late, and the
 *  loss must lie within 5 standard deviations (+ 2 packets) of the configured rate. A reason, or undefined. */
export function checkPing(r: PingResult, want: { rttMs: number; loss: number }): string | undefined {
  if (r.received === 0) return `no reply to ${r.sent} pings`;
  if (r.minMs < want.rttMs * 0.99 - 0.2) return `RTT min ${r.minMs} ms is below the configured ${want.rttMs} ms: the delay is not applied`;
  if (r.minMs > want.rttMs + 25) return `RTT min ${r.minMs} ms is far above the configured ${want.rttMs} ms`;
  const lost = r.sent - r.received;
  const mean = r.sent * want.loss;
  const band = 5 * Math.sqrt(r.sent * want.loss * (1 - want.loss)) + 2;
  if (Math.abs(lost - mean) > band) return `${lost} of ${r.sent} pings lost, expected ${mean.toFixed(1)} ± ${band.toFixed(1)} (loss ${(want.loss * 100).toFixed(2)} %)`;
  return undefined;
}

/** Until 3 pings came back (or 20 s): every neighbour entry on the path is resolved. A lost
 *  neighbour solicitation stalls the first packets for a second (and the kernel drops what overflows
 *  its unresolved queue): that belongs to the lab's start, not to the link's steady state. */
export async function resolveNeighbours(lab: Lab, from = 'client', to: string = FIG5.serverAddr): Promise<void> {
  await lab.exec(from, ['ping', '-6', '-q', '-n', '-c', '3', '-i', '0.2', '-w', '20', to], { timeoutMs: 30_000 });
}

/** Pings from client to server; records the check as points; throws when the links are off. */
async function verifyLinks(ctx: BenchContext, lab: Lab, s: LossScenario, points: Point[]): Promise<void> {
  const count = ctx.params.quick ? 300 : 1000;
  const want = expectedPath(s.links);
  ctx.progress(`${s.id}: verifying the emulated links (${count} pings)`);
  await resolveNeighbours(lab);
  const r = await lab.exec('client', ['ping', '-6', '-q', '-n', '-c', String(count), '-i', '0.002', '-W', '3', FIG5.serverAddr], { timeoutMs: 60_000 });
  const ping = parsePing(r.stdout);
  if (!ping) throw new SrError('LINK_EMULATION_FAILED', `${s.id}: ping gave no summary (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  const base = { figure: s.id, scenario: s.scenario, x: 'ping' };
  record(points, { ...base, series: 'configured', metric: 'ping RTT min', unit: 'ms' }, want.rttMs);
  record(points, { ...base, series: 'measured', metric: 'ping RTT min', unit: 'ms' }, ping.minMs);
  record(points, { ...base, series: 'measured', metric: 'ping RTT avg', unit: 'ms' }, ping.avgMs);
  record(points, { ...base, series: 'configured', metric: 'ping loss', unit: '%' }, want.loss * 100);
  record(points, { ...base, series: 'measured', metric: 'ping loss', unit: '%' }, ((ping.sent - ping.received) / ping.sent) * 100);
  const problem = checkPing(ping, want);
  ctx.note(`${s.id}: link check, ${ping.sent} pings: RTT min/avg/max ${ping.minMs}/${ping.avgMs}/${ping.maxMs} ms (configured ${want.rttMs} ms), loss ${(((ping.sent - ping.received) / ping.sent) * 100).toFixed(2)} % (configured ${(want.loss * 100).toFixed(2)} % round trip)${problem ? ` — FAILED: ${problem}` : ' — ok'}`);
  if (problem) throw new SrError('LINK_EMULATION_FAILED', `${s.id}: ${problem}`);
}

/** The links' own counters after the measurements: points (loss rate seen by nftables, emulator
 *  drops) and one note per link. */
function recordLinks(ctx: BenchContext, s: LossScenario, links: LinkStatus[], points: Point[]): void {
  for (const l of links) {
    const x = `link ${l.a}–${l.b}`;
    const base = { figure: s.id, scenario: s.scenario, x };
    const parts: string[] = [`${s.id} ${x} (delay ${l.delay ?? '0'}, loss ${l.loss ?? '0%'})`];
    if (l.lossCounters) {
      let frames = 0;
      let dropped = 0;
      for (const c of Object.values(l.lossCounters)) {
        frames += c.frames;
        dropped += c.dropped;
      }
      const rate = frames > 0 ? (dropped / frames) * 100 : NaN;
      record(points, { ...base, series: 'configured', metric: 'link loss', unit: '%' }, lossBasisPoints(l.loss ?? '0%') / 100);
      record(points, { ...base, series: 'measured', metric: 'link loss', unit: '%' }, rate);
      parts.push(`nftables dropped ${dropped} of ${frames} frames (${rate.toFixed(2)} %)`);
    }
    const e = l.emulator;
    if (e) {
      let fwd = 0;
      let lost = 0;
      let lagSum = 0;
      let lagMax = 0;
      for (const d of Object.values(e.directions)) {
        fwd += d.txFrames;
        lost += d.queueDrops + d.oversizeDrops + d.txErrors + d.kernelDrops;
        lagSum += d.lagSumUs;
        lagMax = Math.max(lagMax, d.lagMaxUs);
      }
      record(points, { ...base, series: 'emulator', metric: 'emulator losses', unit: 'frames' }, lost);
      record(points, { ...base, series: 'emulator', metric: 'release lag mean', unit: 'ms' }, fwd > 0 ? lagSum / fwd / 1000 : 0);
      const dirs = Object.entries(e.directions).map(([k, d]) => `${k}: ${d.txFrames} sent, drops queue ${d.queueDrops} / oversize ${d.oversizeDrops} / send ${d.txErrors} / kernel ${d.kernelDrops}, peak queue ${d.maxQueuedFrames} frames`);
      parts.push(`emulator (${e.scheduling}) ${dirs.join('; ')}; release lag mean ${fwd > 0 ? (lagSum / fwd / 1000).toFixed(2) : '–'} ms, max ${(lagMax / 1000).toFixed(1)} ms`);
    }
    ctx.note(parts.join(': '));
  }
}

function lossFigure(s: LossScenario): Figure {
  return {
    id: s.id,
    title: s.title,
    what: `${s.what} wrk downloads each page size; TCP congestion control per \`--cc\` (CUBIC by default: loss-based, the Linux default of the paper's time); the links are verified with a ping train first.`,
    plannedRuns: (p) => p.reps * 2 * p.sizes.length,
    plots: () => [
      { file: `${s.id}-throughput.svg`, title: `${s.title.split(':')[0]}: throughput`, scenario: s.scenario, metric: 'throughput', kind: 'bars' as const },
    ],
    ratios: [['proxy', 'router']],
    async run(ctx: BenchContext): Promise<Point[]> {
      const points: Point[] = [];
      const p = ctx.params;
      const cc = p.congestionControl === 'default' ? [] : ['congctl', p.congestionControl];
      ctx.note(`${s.id}: TCP congestion control ${p.congestionControl === 'default' ? "the kernel's default" : `${p.congestionControl} (route attribute congctl on every route of client, m1 and server)`}; ${p.lossDurationS} s per wrk run`);
      await ctx.withLab(impairedTopology('fig5', s.links, s.id), async (lab) => {
        if (p.congestionControl !== 'default') for (const h of [FIG5.client, FIG5.m1, FIG5.server]) await routeCongestionControl(lab, h, p.congestionControl);
        await startLighttpd(lab, FIG5.server, ctx.work, p.sizes);
        await verifyLinks(ctx, lab, s, points);
        // the proxy runs for the whole scenario; router runs steer around it (an idle proxy costs nothing)
        const proxy = srv6pipesProxy(lab, FIG5.m1, FIG5.locator, [{ id: 1, function: 'copy' }], ctx.work, { relay: ctx.params.relay });
        const contenders: Contender[] = [router(FIG5.m1), proxy];
        await proxy.start();
        try {
          for (let rep = 0; rep < p.reps && !ctx.aborted(); rep++) {
            for (const c of contenders) {
              if (ctx.aborted()) break;
              ctx.progress(`${s.id} rep ${rep + 1}/${p.reps}: ${c.kind}`);
              await steer(lab, FIG5.client, FIG5.serverAddr, FIG5.gateway, c.kind === 'router' ? [] : [sid(FIG5.locator, 1)], cc);
              // warm up once per contender (the first repetition); runs of lossDurationS
              const c2 = { ...ctx, params: { ...p, durationS: p.lossDurationS, warmupS: rep === 0 ? p.warmupS : 0 } };
              await measurePages(c2, lab, FIG5.serverAddr, { figure: s.id, scenario: s.scenario, series: c.kind }, p.sizes, points);
            }
          }
        } finally {
          await proxy.stop();
        }
        recordLinks(ctx, s, await lab.linkStatus(), points);
      });
      return points;
    },
  };
}

export const fig7 = lossFigure(LOSS_SCENARIOS[0]!);
export const fig8 = lossFigure(LOSS_SCENARIOS[1]!);
