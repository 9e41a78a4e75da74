/**
 * The Grafana dashboard (examples/grafana/srv6pipes.json) against live /metrics: every metric name its
 * queries use must be exposed by the program it belongs to — srv6pipes_controller_* by the controller,
 * srv6pipes_agent_* by an access-router agent, every other name by the proxy — so that renaming a
 * series without the dashboard fails a test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DASHBOARD = join(fileURLToPath(new URL('../../../', import.meta.url)), 'examples', 'grafana', 'srv6pipes.json');

type Program = 'proxy' | 'controller' | 'agent';

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every query of the dashboard (panels in rows included), with its panel's title. */
export function dashboardQueries(dashboard: unknown = JSON.parse(readFileSync(DASHBOARD, 'utf8'))): { panel: string; expr: string }[] {
  const out: { panel: string; expr: string }[] = [];
  const walk = (ps: Panel[] | undefined): void => {
    for (const p of ps ?? []) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '?', expr: t.expr });
      walk(p.panels);
    }
  };
  walk((dashboard as { panels?: Panel[] }).panels);
  return out;
}

/** The metric names a PromQL expression reads (srv6pipes_*, process_*, nodejs_*). */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.matchAll(/\b(?:srv6pipes|process|nodejs)_[a-zA-Z0-9_]+\b/g)].map((m) => m[0]))];
}

/** Which program exposes a name. */
export function programOf(name: string): Program {
  return name.startsWith('srv6pipes_controller_') ? 'controller' : name.startsWith('srv6pipes_agent_') ? 'agent' : 'proxy';
}

/** The names an exposition declares (# TYPE, with a histogram's _bucket/_sum/_count) or has samples of. */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      names.add(t[1]!);
      if (t[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(t[1]! + s);
      if (t[2] === 'summary') for (const s of ['_sum', '_count']) names.add(t[1]! + s);
      continue;
    }
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (s) names.add(s[1]!);
  }
  return names;
}

/**
 * The dashboard's names that the given expositions do not have: `panel: name (program)` for each.
 * A program not given is not checked (`only`: the programs to check).
 */
export function missingMetrics(expositions: Partial<Record<Program, string>>, dashboard?: unknown): string[] {
  const exposed = Object.fromEntries(Object.entries(expositions).map(([k, v]) => [k, exposedNames(v)])) as Partial<Record<Program, Set<string>>>;
  const missing: string[] = [];
  for (const q of dashboardQueries(dashboard)) {
    for (const name of metricNames(q.expr)) {
      const program = programOf(name);
      const have = exposed[program];
      if (have && !have.has(name)) missing.push(`${q.panel}: ${name} (${program})`);
    }
  }
  return [...new Set(missing)];
}
