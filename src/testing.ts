/** 'srv6pipes/testing': run a function without a network, and the conformance suite. */
export { runFunction, runFlow, spawnFlow, initFunction, MemoryMetrics, type RunOptions, type RunResult, type SpawnFlowOptions } from './sdk/testing.js';
export { BAD_ARGUMENT_ENDING } from './sdk/spawn.js';
export { conformance, sampleData, chunksOf, type ConformanceCase } from './sdk/conformance.js';
