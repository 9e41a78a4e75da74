/**
 * The return agent's config file (`srv6pipes return-agent --config return-agent.yaml`;
 * examples/return-agent.yaml): the command's flags as YAML keys, validated by zod. A flag given on
 * the command line wins over the file.
 */
import { z } from 'zod';
import { duration } from '../config/duration.js';
import { parseYamlText, readConfigText } from '../config/file.js';
import { configInvalid, parseWith } from '../config/fields.js';
import { logLevelSchema, returnHopSchema } from '../config/schemas.js';
import type { ReturnAgentOptions } from './return-agent.js';

const schema = z
  .object({
    /** return hops: the SRH tag a proxy's flows carry → its return SID */
    hops: z.array(returnHopSchema).default([]),
    /** also learn the hops from this controller, ADDR or [ADDR]:PORT; or a list of a replicated controller's instances */
    controller: z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(8)]).optional(),
    /** with `controller`: ask again this often */
    refresh: duration({ min: 1000, max: 86_400_000 }).default(30_000),
    /** log the marked packets per hop this often */
    report: duration({ min: 1000, max: 86_400_000 }).default(60_000),
    logLevel: logLevelSchema,
  })
  .strict()
  .refine((c) => c.hops.length > 0 || c.controller !== undefined, { message: 'give `hops` or `controller` (or both)', path: ['hops'] });

export function loadReturnAgentConfig(path: string): ReturnAgentOptions {
  const c = parseWith(schema, parseYamlText(readConfigText(path), path), (p, m) => configInvalid(path, p, m));
  const ids = new Set<number>();
  c.hops.forEach((h, i) => {
    if (ids.has(h.id)) throw configInvalid(path, ['hops', i, 'id'], `return id ${h.id} is given twice`);
    ids.add(h.id);
  });
  return {
    hops: c.hops,
    ...(c.controller !== undefined ? { controller: typeof c.controller === 'string' ? [c.controller] : c.controller } : {}),
    refreshSeconds: c.refresh / 1000,
    reportSeconds: c.report / 1000,
    logLevel: c.logLevel,
  };
}
