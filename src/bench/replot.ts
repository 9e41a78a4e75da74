/** `bench --replot DIR`: the SVGs and summary.md of a results folder made again from its
 *  results.json, without running anything (after a change of the plots' style, say). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SrError } from '../core/errors.js';
import { FIGURES } from './figures.js';
import { writeResults, type FigureResult, type RunInfo } from './report.js';
import type { Point } from './types.js';

interface StoredFigure {
  id: string;
  seconds: number;
  error?: string;
  points: Array<Point & Record<string, unknown>>;
}

/** Reads `dir/results.json` back into what `writeResults` takes. A file that is not a results
 *  folder's, or names a figure this version does not know, is BAD_ARGUMENT. */
export function readResults(dir: string): { results: FigureResult[]; info: RunInfo } {
  const file = join(dir, 'results.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SrError('BAD_ARGUMENT', `--replot: cannot read ${file}: ${(e as Error).message}`);
  }
  const o = json as { version?: unknown; figures?: unknown } & Record<string, unknown>;
  if (typeof o !== 'object' || o === null || o.version !== 1 || !Array.isArray(o.figures)) {
    throw new SrError('BAD_ARGUMENT', `--replot: ${file} is not a bench results file (version 1 with figures)`);
  }
  const results = (o.figures as StoredFigure[]).map((f): FigureResult => {
    const figure = FIGURES.find((x) => x.id === f?.id);
    if (!figure || !Array.isArray(f.points)) throw new SrError('BAD_ARGUMENT', `--replot: ${file}: unknown figure ${JSON.stringify(f?.id)}`);
    const points = f.points.map((p) => ({ figure: p.figure, scenario: p.scenario, series: p.series, x: p.x, metric: p.metric, unit: p.unit, values: p.values }));
    return { figure, points, seconds: f.seconds, ...(f.error !== undefined ? { error: f.error } : {}) };
  });
  const { startedAt, seconds, machine, params, notes, placement } = o as unknown as RunInfo;
  return { results, info: { startedAt, seconds, machine, params, notes, placement } };
}

/** Writes the folder's SVGs and summary.md again; returns the files written. */
export async function replot(dir: string): Promise<string[]> {
  const { results, info } = readResults(dir);
  return writeResults(dir, results, info, { json: false });
}
