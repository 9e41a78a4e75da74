/** Network-namespace labs: topologies (YAML) and running labs. See topology.ts for the file format. */
export { Lab, checkLabName, type ExecOptions, type ExecResult, type LabUpOptions } from './lab.js';
export type { LabState, ServiceState } from './state.js';
export type { LinkStatus, LossCounter } from './links.js';
export type { EmulatorStats, DirectionStats } from './linkemu/emulator.js';
export { stateDir } from './state.js';
export { namespaceName, labOfNamespace, planLab, planAsShell, type NamespacePlan } from './plan.js';
export { builtinTopologies, loadTopology, parseTopology } from './load.js';
export {
  hostAddress,
  hostAddresses,
  topologyHost,
  validateTopology,
  type Host,
  type Interface,
  type Link,
  type LinkEnd,
  type Role,
  type Route,
  type Service,
  type Topology,
} from './topology.js';
