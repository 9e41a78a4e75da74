/** 'srv6pipes/testing': run a function without a network, and the conformance suite. */
export { runFunction, runFlow, initFunction, MemoryMetrics, type RunOptions, type RunResult } from './sdk/testing.js';
export { conformance, sampleData, chunksOf, type ConformanceCase } from './sdk/conformance.js';
