/**
 * Job templates: how a verified webhook event becomes an async inference job (the `job` action). A
 * template names the model and builds the prompt, or chat messages, from the event with
 * `{{payload.path}}` placeholders (also `{{id}}` and `{{type}}`), plus fixed generation params and an
 * optional callback URL. Templates are checked and compiled once, when the settings are parsed;
 * rendering is pure and fails with a reason a dead letter can carry (a path the event lacks, an
 * empty result, or a result over the size cap), never with a throw.
 *
 * A placeholder renders by where it stands in the template text, so that JSON written into a
 * prompt stays JSON: in plain text a string value is inserted as it is (other values as compact
 * JSON); inside a JSON string literal (after an opening `{` or `[`, between quotes) the value is
 * JSON-escaped; inside JSON but outside a string it is inserted as a JSON value (strings quoted).
 */
import * as z from 'zod';
import { ChatMessageSchema, type ChatMessage } from '../../shared/contracts/backend';
import { GenerationParamsSchema, MAX_PROMPT_CHARS, ModelNameSchema, type GenerationParams } from '../../shared/contracts/infer';
import type { WebhookEventSchema } from './messages';

type WebhookEvent = z.infer<typeof WebhookEventSchema>;

/** How a placeholder's value is written, from its position in the template (see the file header). */
type Mode = 'text' | 'json-string' | 'json-value';

type Segment = { readonly text: string } | { readonly path: readonly string[]; readonly mode: Mode };

/** A template text split into literal text and placeholders. */
interface CompiledText {
  readonly source: string;
  readonly segments: readonly Segment[];
}

const PLACEHOLDER = /\{\{(.*?)\}\}/gs;
const PATH = /^(?:id|type|payload(?:\.[A-Za-z0-9_-]+)*)$/;

/** Tracks whether a position of the template text is inside JSON, and inside a JSON string there. */
class JsonContext {
  #depth = 0;
  #inString = false;
  #escaped = false;

  advance(text: string): void {
    for (const ch of text) {
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (ch === '\\') this.#escaped = true;
        else if (ch === '"') this.#inString = false;
      } else if (ch === '"' && this.#depth > 0) this.#inString = true;
      else if (ch === '{' || ch === '[') this.#depth++;
      else if ((ch === '}' || ch === ']') && this.#depth > 0) this.#depth--;
    }
  }

  get mode(): Mode {
    return this.#inString ? 'json-string' : this.#depth > 0 ? 'json-value' : 'text';
  }
}

/** Compiles a template text, or says why it is not one (a placeholder that is not a path of the event). */
function compileText(source: string): CompiledText | string {
  const segments: Segment[] = [];
  const context = new JsonContext();
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    const literal = source.slice(last, match.index);
    context.advance(literal);
    if (literal) segments.push({ text: literal });
    const path = (match[1] ?? '').trim();
    if (!PATH.test(path)) return `placeholder '${match[0].slice(0, 80)}' is not a path of the event (id, type, or payload.field.0.field)`;
    segments.push({ path: path.split('.'), mode: context.mode });
    last = match.index + match[0].length;
  }
  if (source.slice(last).includes('{{')) return "an opening '{{' has no closing '}}'";
  if (last < source.length) segments.push({ text: source.slice(last) });
  return { source, segments };
}

/** A template text (prompt or message content), compiled at parse time. */
const TemplateTextSchema = z
  .string()
  .min(1)
  .max(MAX_PROMPT_CHARS)
  .transform((text, ctx) => {
    const compiled = compileText(text);
    if (typeof compiled === 'string') {
      ctx.addIssue({ code: 'custom', message: compiled });
      return z.NEVER;
    }
    return compiled;
  });

/** A job template as configured for an event type (camelCase, as the rest of WEBHOOK_SOURCES). */
export const JobTemplateSchema = z
  .object({
    model: ModelNameSchema,
    /** Completion-style: one prompt. */
    prompt: TemplateTextSchema.optional(),
    /** Chat-style: the messages, each content a template. */
    messages: z
      .array(z.object({ role: ChatMessageSchema.shape.role, content: TemplateTextSchema }).strict())
      .min(1)
      .max(64)
      .optional(),
    params: GenerationParamsSchema.optional(),
    /** Where the job's result is delivered, signed. @default the tenant's callback URL */
    callbackUrl: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    /** Cap on the rendered prompt, or on all message contents together, in characters. @default 32768 */
    maxChars: z.number().int().min(1).max(MAX_PROMPT_CHARS).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.prompt === undefined) === (t.messages === undefined))
      ctx.addIssue({ code: 'custom', message: 'give exactly one of prompt or messages', path: ['prompt'] });
  });

export type JobTemplate = z.output<typeof JobTemplateSchema>;

/** The job a template rendered: an inference request body and where its result goes. */
export interface RenderedJob {
  readonly request: { readonly model: string; readonly params?: GenerationParams } & (
    | { readonly prompt: string }
    | { readonly messages: readonly ChatMessage[] }
  );
  readonly callbackUrl?: string;
}

/** A rendered job, or why the event does not render. */
export type RenderResult = { readonly ok: true; readonly job: RenderedJob } | { readonly ok: false; readonly reason: string };

/** Thrown inside rendering only; turned into a failed {@link RenderResult}. */
class RenderError extends Error {
  override readonly name = 'RenderError';
}

function resolve(event: WebhookEvent, path: readonly string[]): unknown {
  let value: unknown = event;
  for (const [i, key] of path.entries()) {
    const container = value;
    const present = Array.isArray(container)
      ? /^\d+$/.test(key) && Number(key) < container.length
      : typeof container === 'object' && container !== null && Object.hasOwn(container, key);
    if (!present) throw new RenderError(`the event has no ${path.join('.')} (${path.slice(0, i).join('.') || 'the event'} has no '${key}')`);
    value = (container as Record<string, unknown>)[key];
  }
  return value;
}

function asText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Renders one text within `budget` characters (what is left of the template's `cap`). */
function renderText(compiled: CompiledText, event: WebhookEvent, what: string, budget: number, cap: number): string {
  let out = '';
  for (const segment of compiled.segments) {
    if ('text' in segment) out += segment.text;
    else {
      const value = resolve(event, segment.path);
      if (segment.mode === 'text') out += asText(value);
      else if (segment.mode === 'json-string') out += JSON.stringify(asText(value)).slice(1, -1);
      else out += JSON.stringify(value);
    }
    // Checked as it grows: a large payload is refused without building all of it.
    if (out.length > budget) throw new RenderError(`the rendered ${what} is over the template's cap of ${cap} characters`);
  }
  if (out.trim() === '') throw new RenderError(`the rendered ${what} is empty`);
  return out;
}

/** Renders `template` for `event`: the job request, or the reason it cannot be made. */
export function renderJobTemplate(template: JobTemplate, event: WebhookEvent): RenderResult {
  const cap = template.maxChars ?? MAX_PROMPT_CHARS;
  const common = { model: template.model, ...(template.params ? { params: template.params } : {}) };
  try {
    let request: RenderedJob['request'];
    if (template.prompt) request = { ...common, prompt: renderText(template.prompt, event, 'prompt', cap, cap) };
    else {
      let left = cap;
      const messages = (template.messages ?? []).map((m, i) => {
        const content = renderText(m.content, event, `messages (at message ${i + 1})`, left, cap);
        left -= content.length;
        return { role: m.role, content };
      });
      request = { ...common, messages };
    }
    return { ok: true, job: { request, ...(template.callbackUrl ? { callbackUrl: template.callbackUrl } : {}) } };
  } catch (err) {
    if (err instanceof RenderError) return { ok: false, reason: `template did not render: ${err.message}` };
    throw err;
  }
}
