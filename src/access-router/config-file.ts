/**
 * The access-router agent's config file (`srv6pipes access-router --config agent.yaml`;
 * examples/access-router.yaml): the command's flags as YAML keys, validated by zod. A flag given on
 * the command line wins over the file. Files named in it (token, TLS) are relative to the file.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseYamlText, readConfigText } from '../config/file.js';
import { configInvalid, parseWith } from '../config/fields.js';
import { ipv6Schema, logLevelSchema, prefixSchema } from '../config/schemas.js';
import { agentLimitsSchema } from './limits.js';
import type { RunAccessRouterOptions } from './daemon.js';

const schema = z
  .object({
    /** the router's node name in the controller config */
    name: z.string().min(1).default('ar'),
    /** the prefix binding SIDs are allocated from */
    bsidPrefix: prefixSchema,
    /** where the controller reaches the agent: [ADDR]:PORT */
    listen: z.string().regex(/^\[[0-9a-fA-F:.]+\]:\d+$|^[0-9.]+:\d+$/, '[ADDR]:PORT, e.g. "[fc00:9::1]:7780"'),
    tunnelSource: ipv6Schema.optional(),
    clientInterfaces: z.array(z.string().min(1)).default([]),
    tokenFile: z.string().min(1).optional(),
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1), clientCa: z.string().min(1).optional() }).strict().optional(),
    limits: agentLimitsSchema.partial().default({}),
    logLevel: logLevelSchema,
  })
  .strict();

/** The options a config file gives `runAccessRouter` (paths resolved against the file's directory). */
export function loadAccessRouterConfig(path: string): RunAccessRouterOptions {
  const c = parseWith(schema, parseYamlText(readConfigText(path), path), (p, m) => configInvalid(path, p, m));
  const rel = (f: string): string => resolve(dirname(path), f);
  return {
    name: c.name,
    bsidPrefix: c.bsidPrefix,
    listen: c.listen,
    clientInterfaces: c.clientInterfaces,
    limits: c.limits,
    logLevel: c.logLevel,
    ...(c.tunnelSource !== undefined ? { tunnelSource: c.tunnelSource } : {}),
    ...(c.tokenFile !== undefined ? { tokenFile: rel(c.tokenFile) } : {}),
    ...(c.tls ? { tlsCert: rel(c.tls.cert), tlsKey: rel(c.tls.key), ...(c.tls.clientCa !== undefined ? { tlsClientCa: rel(c.tls.clientCa) } : {}) } : {}),
  };
}
