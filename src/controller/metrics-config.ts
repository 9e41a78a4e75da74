/** The controller's `metrics` section (the listener of controller/metrics.ts). */
import { z } from 'zod';
import { addressSchema, portSchema } from '../config/schemas.js';

/** `metrics:` in the controller's config. */
export const CONTROLLER_METRICS_SCHEMA = z
  .object({
    /** the listener (loopback by default: Prometheus on this host; any other address serves the counters to whoever reaches it) */
    address: addressSchema.default('::1'),
    port: portSchema.default(9153),
    /** Host names accepted besides loopback names and the listener's own address (the name Prometheus scrapes) */
    hosts: z.array(z.string().min(1).max(253)).max(64).default([]),
  })
  .strict();

export type ControllerMetricsConfig = z.infer<typeof CONTROLLER_METRICS_SCHEMA>;
