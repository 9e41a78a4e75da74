/** Benchmarks of the paper's §V (Figs. 6, 9, 11) plus connection cost, in network-namespace labs. */
export { runBench, checkEnvironment, selectFigures, type BenchOptions } from './run.js';
export { FIGURES } from './figures.js';
export { defaultParams, paramsFromOptions, type BenchOptions as BenchParamOptions } from './params.js';
export type { BenchParams, Figure, Point, Ratio, Stat } from './types.js';
