/**
 * What a webhook source does with a verified event, per event type: a source's `actions` map event
 * type patterns to one action each.
 *
 * - Patterns: an exact type (`"invoice.paid"`), a prefix ending in `*` (`"invoice.*"`), or `"*"`.
 *   The most specific pattern wins: exact, then the longest prefix, then `"*"`; an event no pattern
 *   matches has no action.
 * - Actions: `job` (render a job template into an async inference job, template.ts),
 *   `eventbridge` (PutEvents to `bus`, default the environment's bus) and `forward` (the SigV4
 *   HTTPS forward to `url`, default the source's `forwardUrl`).
 *
 * The map is checked and compiled once with the settings (zod); matching is pure.
 */
import * as z from 'zod';
import { JobTemplateSchema } from './template';

/** Patterns per source; each is matched in constant or linear time. */
const MAX_PATTERNS = 64;

/** `*`, an exact type, or a prefix ending in a single `*` (no spaces; 128 characters like event types). */
const EVENT_TYPE_PATTERN = /^(?:\*|[^\s*]{1,128}\*?)$/;

/** A bus name or ARN, as PutEvents' EventBusName takes it. */
export const BusSchema = z.string().regex(/^(?:arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/)?[/.\-_A-Za-z0-9]{1,256}$/, 'not an event bus name or ARN');

const SourceActionSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('job'), template: JobTemplateSchema }).strict(),
  z.object({ action: z.literal('eventbridge'), bus: BusSchema.optional() }).strict(),
  z.object({ action: z.literal('forward'), url: z.url({ protocol: /^https?$/ }).optional() }).strict(),
]);

/** One configured action. */
export type SourceAction = z.output<typeof SourceActionSchema>;

/** A source's actions, compiled for matching. */
export interface SourceActions {
  readonly exact: ReadonlyMap<string, SourceAction>;
  /** Longest prefix first. */
  readonly prefixes: readonly { readonly prefix: string; readonly pattern: string; readonly action: SourceAction }[];
  readonly fallback: SourceAction | undefined;
}

/** A source's `actions` setting: `{pattern: action}`, at least one and at most 64 patterns. */
export const SourceActionsSchema = z
  .record(z.string(), SourceActionSchema)
  .superRefine((map, ctx) => {
    const patterns = Object.keys(map);
    if (patterns.length === 0) ctx.addIssue({ code: 'custom', message: 'give at least one event type pattern' });
    if (patterns.length > MAX_PATTERNS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_PATTERNS} event type patterns` });
    // Checked here rather than as the record's key schema, whose failure would not say why.
    for (const pattern of patterns.filter((p) => !EVENT_TYPE_PATTERN.test(p))) {
      ctx.addIssue({
        code: 'custom',
        path: [pattern],
        message: `'${pattern.slice(0, 140)}' is not an event type pattern: use "*", an exact type like "invoice.paid", or a prefix like "invoice.*"`,
      });
    }
  })
  .transform((map): SourceActions => {
    const exact = new Map<string, SourceAction>();
    const prefixes: { prefix: string; pattern: string; action: SourceAction }[] = [];
    let fallback: SourceAction | undefined;
    for (const [pattern, action] of Object.entries(map)) {
      if (pattern === '*') fallback = action;
      else if (pattern.endsWith('*')) prefixes.push({ prefix: pattern.slice(0, -1), pattern, action });
      else exact.set(pattern, action);
    }
    prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
    return { exact, prefixes, fallback };
  });

/** The action for an event type and the pattern that chose it; undefined when none matches. */
export function matchAction(actions: SourceActions, eventType: string): { readonly pattern: string; readonly action: SourceAction } | undefined {
  const exact = actions.exact.get(eventType);
  if (exact) return { pattern: eventType, action: exact };
  const prefix = actions.prefixes.find((p) => eventType.startsWith(p.prefix));
  if (prefix) return { pattern: prefix.pattern, action: prefix.action };
  return actions.fallback ? { pattern: '*', action: actions.fallback } : undefined;
}
