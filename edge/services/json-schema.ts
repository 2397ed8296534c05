/**
 * JSON Schema at the edge: whether a client's schema (tool `parameters`, `response_format`) is a
 * well-formed schema, and whether a model's output validates against one. Validation uses
 * `@cfworker/json-schema`, which interprets schemas (Workers forbid the code generation Ajv uses).
 * The library does not check a schema itself, so {@link schemaProblem} walks the keywords the
 * draft defines and names the first one whose value has the wrong shape.
 */
import { type Schema, Validator } from '@cfworker/json-schema';
import { MAX_SCHEMA_BYTES } from '../../shared/contracts/tools';

/** A problem with a schema, at a JSON path below the request field that holds it. */
export interface SchemaProblem {
  readonly path: string;
  readonly message: string;
}

const TYPES = new Set(['array', 'boolean', 'integer', 'null', 'number', 'object', 'string']);
const SCHEMA_KEYWORDS = [
  'items',
  'additionalProperties',
  'not',
  'contains',
  'propertyNames',
  'additionalItems',
  'if',
  'then',
  'else',
  'unevaluatedItems',
  'unevaluatedProperties',
];
const SCHEMA_MAPS = ['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas'];
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const NUMBERS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minContains', 'maxContains'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function walk(schema: unknown, path: string, depth: number): SchemaProblem | undefined {
  if (typeof schema === 'boolean') return undefined;
  if (!isObject(schema)) return { path, message: 'a schema must be an object or a boolean' };
  if (depth > 32) return { path, message: 'schema nested deeper than 32 levels' };
  const type = schema.type;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    const bad = types.find((t) => typeof t !== 'string' || !TYPES.has(t));
    if (types.length === 0 || bad !== undefined) return { path: `${path}.type`, message: `unknown type ${JSON.stringify(bad ?? type)}` };
  }
  if (schema.required !== undefined && !(Array.isArray(schema.required) && schema.required.every((r) => typeof r === 'string'))) {
    return { path: `${path}.required`, message: 'required must be an array of property names' };
  }
  if (schema.enum !== undefined && !Array.isArray(schema.enum)) return { path: `${path}.enum`, message: 'enum must be an array' };
  if (schema.$ref !== undefined && typeof schema.$ref !== 'string') return { path: `${path}.$ref`, message: '$ref must be a string' };
  for (const k of NUMBERS) {
    if (schema[k] !== undefined && typeof schema[k] !== 'number' && typeof schema[k] !== 'boolean')
      return { path: `${path}.${k}`, message: `${k} must be a number` };
  }
  for (const k of COUNTS) if (schema[k] !== undefined && !isCount(schema[k])) return { path: `${path}.${k}`, message: `${k} must be a non-negative integer` };
  if (schema.pattern !== undefined) {
    if (typeof schema.pattern !== 'string') return { path: `${path}.pattern`, message: 'pattern must be a string' };
    try {
      new RegExp(schema.pattern, 'u');
    } catch {
      return { path: `${path}.pattern`, message: 'pattern is not a valid regular expression' };
    }
  }
  for (const k of SCHEMA_KEYWORDS) {
    if (schema[k] === undefined) continue;
    // Draft 4-7 tuple form of items.
    if (k === 'items' && Array.isArray(schema[k])) {
      const problem = list(schema[k] as unknown[], `${path}.items`, depth);
      if (problem) return problem;
      continue;
    }
    const problem = walk(schema[k], `${path}.${k}`, depth + 1);
    if (problem) return problem;
  }
  for (const k of SCHEMA_MAPS) {
    const map = schema[k];
    if (map === undefined) continue;
    if (!isObject(map)) return { path: `${path}.${k}`, message: `${k} must be an object of schemas` };
    for (const [name, sub] of Object.entries(map)) {
      const problem = walk(sub, `${path}.${k}.${name}`, depth + 1);
      if (problem) return problem;
    }
  }
  for (const k of SCHEMA_LISTS) {
    const subs = schema[k];
    if (subs === undefined) continue;
    if (!Array.isArray(subs) || subs.length === 0) return { path: `${path}.${k}`, message: `${k} must be a non-empty array of schemas` };
    const problem = list(subs, `${path}.${k}`, depth);
    if (problem) return problem;
  }
  return undefined;
}

function list(subs: readonly unknown[], path: string, depth: number): SchemaProblem | undefined {
  for (const [i, sub] of subs.entries()) {
    const problem = walk(sub, `${path}.${i}`, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** The first problem of `schema` (found at request field `path`), or undefined when it is a usable schema. */
export function schemaProblem(schema: unknown, path: string): SchemaProblem | undefined {
  const bytes = new TextEncoder().encode(JSON.stringify(schema)).byteLength;
  if (bytes > MAX_SCHEMA_BYTES) return { path, message: `schema is ${bytes} bytes, more than ${MAX_SCHEMA_BYTES}` };
  const problem = walk(schema, path, 0);
  if (problem) return problem;
  try {
    new Validator(schema as Schema, '2020-12');
  } catch (err) {
    return { path, message: `schema cannot be used: ${err instanceof Error ? err.message : 'invalid'}` };
  }
  return undefined;
}

/**
 * Why `text` does not conform to `schema` (not JSON, or the first validation error with its
 * location in the output), or undefined when it conforms.
 */
export function schemaMismatch(schema: Record<string, unknown>, text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the output is not valid JSON';
  }
  const result = new Validator(schema as Schema, '2020-12', true).validate(value);
  if (result.valid) return undefined;
  const error = result.errors.find((e) => e.keyword !== 'properties' && e.keyword !== 'items') ?? result.errors[0];
  return error ? `${error.instanceLocation || '#'}: ${error.error}` : 'the output does not match the schema';
}
