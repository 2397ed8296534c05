/**
 * A deterministic value that validates against a JSON Schema: what the reference model server
 * answers for a tool call's arguments and for a `json_schema` response format, standing in for a
 * model decoding under a grammar. Covers what tool and structured-output schemas use (objects with
 * `properties`/`required`, arrays, scalars with `enum`/`const`/bounds, `anyOf`/`oneOf`/`allOf`,
 * local `$ref`s to `$defs`/`definitions`); strings are drawn from the server's vocabulary by a seed.
 */
import { VOCABULARY, createRng } from './generator';

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

function resolve(schema: Schema, root: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let at: unknown = root;
  for (const part of ref.slice(2).split('/')) at = isSchema(at) ? at[part.replaceAll('~1', '/').replaceAll('~0', '~')] : undefined;
  return isSchema(at) ? resolve(at, root) : {};
}

function typeOf(schema: Schema): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return (type.find((t) => t !== 'null') as string | undefined) ?? 'null';
  if (isSchema(schema.properties)) return 'object';
  if (schema.items !== undefined) return 'array';
  return undefined;
}

function word(rng: () => number): string {
  const words = VOCABULARY.filter((w) => /^[a-z]+$/.test(w));
  return words[Math.floor(rng() * words.length)] ?? 'value';
}

function stringFor(schema: Schema, rng: () => number): string {
  if (schema.format === 'date-time') return '2026-01-01T00:00:00Z';
  if (schema.format === 'date') return '2026-01-01';
  if (schema.format === 'email') return 'user@example.com';
  if (schema.format === 'uri') return 'https://example.com/';
  if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  let text = word(rng);
  while (text.length < min) text += word(rng);
  return text.slice(0, Math.max(min, Math.min(max, text.length)));
}

function numberFor(schema: Schema, integer: boolean): number {
  const low = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : undefined;
  const high = typeof schema.maximum === 'number' ? schema.maximum : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - 1 : undefined;
  let n = low ?? (high !== undefined ? Math.min(high, 1) : 1);
  if (integer) n = Math.ceil(n);
  if (typeof schema.multipleOf === 'number' && schema.multipleOf > 0) n = Math.ceil(n / schema.multipleOf) * schema.multipleOf;
  return n;
}

function sample(input: unknown, root: Schema, rng: () => number, depth: number): unknown {
  if (input === true || input === undefined) return {};
  if (!isSchema(input)) return null;
  const schema = resolve(input, root);
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const k of ['anyOf', 'oneOf'] as const) {
    const options = schema[k];
    if (Array.isArray(options) && options.length > 0)
      return sample(options.find((o) => !(isSchema(o) && o.type === 'null')) ?? options[0], root, rng, depth + 1);
  }
  if (Array.isArray(schema.allOf)) {
    const merged = Object.assign({}, ...schema.allOf.map((s) => (isSchema(s) ? resolve(s, root) : {})), { ...schema, allOf: undefined });
    return sample(merged, root, rng, depth + 1);
  }
  switch (typeOf(schema)) {
    case 'object': {
      const properties = isSchema(schema.properties) ? schema.properties : {};
      const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
      // Every property a strict schema lists is required; with depth, optional ones are left out to stay finite.
      const names = depth > 6 ? required : Object.keys(properties);
      return Object.fromEntries(names.map((name) => [name, sample(properties[name], root, rng, depth + 1)]));
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : depth > 6 ? 0 : 1;
      const items = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
      return Array.from({ length: Math.max(min, items.length) }, (_, i) => sample(items[i] ?? schema.items, root, rng, depth + 1));
    }
    case 'string':
      return stringFor(schema, rng);
    case 'integer':
      return numberFor(schema, true);
    case 'number':
      return numberFor(schema, false);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return {};
  }
}

/** A value valid against `schema` (absent: an empty object), the same for the same schema and seed. */
export function sampleForSchema(schema: unknown, seed: number): unknown {
  return sample(schema ?? { type: 'object' }, isSchema(schema) ? schema : {}, createRng(seed), 0);
}

/** A JSON value that `schema` rejects: of a type it does not allow (a string where it wants an object, etc.). */
export function violationFor(schema: unknown): unknown {
  const type = isSchema(schema) ? typeOf(schema) : undefined;
  if (type === 'string') return 42;
  return 'this output ignores the schema';
}
