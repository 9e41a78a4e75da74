/**
 * What a descriptor says about its function, as plain data: what `srv6pipes functions [--json]` prints
 * and what the docs list. Options come from the options schema (zod 4's JSON Schema export); a schema
 * that cannot be read that way (a module bringing zod 3, or a hand-written safeParse) gives null.
 */
import { z } from 'zod';
import { REQUIREMENTS, type FunctionDescriptor, type FunctionRequirement } from './types.js';

export interface OptionInfo {
  name: string;
  /** e.g. `integer 0..1024`, `gzip|deflate|brotli`, `string[] | null` */
  type: string;
  required: boolean;
  /** the default applied when the option is left out (absent: none) */
  default?: unknown;
  description: string;
}

export interface FunctionInfo {
  name: string;
  summary: string;
  /** what the SID's argument bits mean; null when the descriptor does not say (a 0.1 module) */
  argument: string | null;
  /** the top-level options; null when the schema cannot be read */
  options: OptionInfo[] | null;
  /** reset reason → meaning; null when the descriptor does not declare them (a 0.1 module) */
  resets: Record<string, string> | null;
  requires: { name: FunctionRequirement; description: string }[];
}

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  required?: string[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
};

/** One JSON Schema node as a short type: `integer 0..9`, `a|b`, `string[]`, `{ string: string }`. */
export function schemaType(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => String(v)).join('|');
  if (s.anyOf) return s.anyOf.map(schemaType).join(' | ');
  switch (s.type) {
    case 'integer':
    case 'number': {
      if (s.minimum === undefined && s.maximum === undefined) return s.type;
      return `${s.type} ${s.minimum ?? ''}..${s.maximum ?? ''}`;
    }
    case 'array': {
      const item = s.items ? schemaType(s.items) : 'any';
      return item.includes(' ') ? `(${item})[]` : `${item}[]`;
    }
    case 'object':
      return typeof s.additionalProperties === 'object' ? `{ string: ${schemaType(s.additionalProperties)} }` : 'object';
    case undefined:
      return 'any';
    default:
      return s.type;
  }
}

/** The top-level options of a schema, in declaration order; null when it cannot be read. */
export function optionsOf(schema: unknown): OptionInfo[] | null {
  if (!schema || typeof schema !== 'object' || !('_zod' in schema)) return null; // not a zod 4 schema
  let json: JsonSchema;
  try {
    json = z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  } catch {
    return null;
  }
  if (json.type !== 'object' || !json.properties) return null;
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties).map(([name, p]) => ({
    name,
    type: schemaType(p),
    required: required.has(name),
    ...(p.default !== undefined ? { default: p.default } : {}),
    description: p.description ?? '',
  }));
}

export function describeFunction(d: FunctionDescriptor): FunctionInfo {
  return {
    name: d.name,
    summary: d.summary,
    argument: d.argument?.description ?? null,
    options: optionsOf(d.options),
    resets: d.resets ? { ...d.resets } : null,
    requires: (d.requires ?? []).map((name) => ({ name, description: REQUIREMENTS[name] })),
  };
}
