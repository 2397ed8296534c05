/**
 * Embeddings as the serving containers answer them: vLLM's and TEI's OpenAI-compatible `POST
 * /v1/embeddings`, TEI's native `POST /embed`, and a TEI / Hugging Face embedding container behind
 * a SageMaker endpoint (`{inputs: [...]}` → `[[...], ...]`, the token count in `CustomAttributes`
 * as `x-compute-tokens=N`). Vectors are deterministic (same input → same vector), unit length and
 * float32-exact, `embeddingDimensions` long (per endpoint), shortened Matryoshka-style when a request
 * asks for fewer `dimensions`. Token counts follow the server's one counting rule (a token array
 * counts its ids). Every call counts under its route in `/admin/stats` (names ending `.embeddings`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import { BodyTooLargeError, readBody } from '../lib/net';
import { behaviourFor, type BehaviourConfig } from './config';
import { frontFault } from './faults';
import { openAiError, type ContainerError } from './formats';
import { countTokens, createRng, fnv1a } from './generator';
import { sendBody } from './io';
import { waitForGeneration } from './pacing';
import { INJECTED_FAILURE, decodeJson, type ServerContext } from './serve';
import type { InvocationRecord } from './stats';

type Input = string | readonly number[];

const Inputs = z.union([
  z.string().min(1),
  z.array(z.string().min(1)).min(1),
  z.array(z.number().int().min(0)).min(1),
  z.array(z.array(z.number().int().min(0)).min(1)).min(1),
]);
const Dimensions = z.number().int().min(1).nullish();
const OpenAiBody = z.object({ model: z.string().nullish(), input: Inputs, encoding_format: z.enum(['float']).nullish(), dimensions: Dimensions }).loose();
const TeiBody = z.object({ inputs: Inputs, normalize: z.boolean().nullish(), truncate: z.boolean().nullish(), dimensions: Dimensions }).loose();

/** A body a TEI embedding container takes: `inputs` as a list (TGI's `inputs` is one string). */
export const isTeiEmbedBody = (body: unknown): boolean => typeof body === 'object' && body !== null && Array.isArray((body as { inputs?: unknown }).inputs);

const asList = (input: z.infer<typeof Inputs>): Input[] =>
  typeof input === 'string' ? [input] : typeof input[0] === 'number' ? [input as number[]] : (input as Input[]);

/** Tokens of one input by the server's counting rule. */
export const inputTokens = (input: Input): number => (typeof input === 'string' ? countTokens(input) : input.length);

/** The deterministic unit vector of `input` (`dimensions` long; the first `dimensions` of the full one, renormalised). */
export function embeddingVector(input: Input, fullDimensions: number, dimensions = fullDimensions): number[] {
  const rng = createRng(fnv1a(typeof input === 'string' ? `t:${input}` : `i:${input.join(',')}`));
  const raw = Array.from({ length: fullDimensions }, () => rng() * 2 - 1).slice(0, dimensions);
  const norm = Math.hypot(...raw) || 1;
  return raw.map((v) => Math.fround(v / norm));
}

/** What one embedding call asks for, once parsed. */
interface EmbedCall {
  readonly inputs: Input[];
  readonly dimensions: number | undefined;
  readonly model: string | null;
}

function parse(body: unknown, wire: 'openai' | 'tei'): EmbedCall | string {
  if (wire === 'openai') {
    const parsed = OpenAiBody.safeParse(body);
    if (!parsed.success) return `invalid embeddings request: ${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message}`;
    return { inputs: asList(parsed.data.input), dimensions: parsed.data.dimensions ?? undefined, model: parsed.data.model ?? null };
  }
  const parsed = TeiBody.safeParse(body);
  if (!parsed.success) return `Input validation error: ${parsed.error.issues[0]?.path.join('.') || 'inputs'}: ${parsed.error.issues[0]?.message}`;
  return { inputs: asList(parsed.data.inputs), dimensions: parsed.data.dimensions ?? undefined, model: null };
}

/** The vectors and token count of a call, or the container's 400 message. */
function embedAll(call: EmbedCall, behaviour: BehaviourConfig): { vectors: number[][]; tokens: number } | string {
  const full = behaviour.embeddingDimensions;
  if (call.dimensions !== undefined && call.dimensions > full) return `dimensions ${call.dimensions} exceeds the model's ${full}`;
  return {
    vectors: call.inputs.map((input) => embeddingVector(input, full, call.dimensions ?? full)),
    tokens: call.inputs.reduce((sum, input) => sum + inputTokens(input), 0),
  };
}

/** Where an embedding call came in and how its answer goes out. */
export interface EmbedWire {
  readonly wire: 'openai' | 'tei';
  readonly record: InvocationRecord;
  /** The behaviour's key: SageMaker endpoint name, else the body's `model` (else the configured model name). */
  readonly endpoint?: string;
  readonly fail: (error: ContainerError, headers?: Record<string, string>) => void;
  readonly send: (body: string, tokens: number) => void;
}

/** Embeds a decoded body once the route's own faults have been applied; answers through `wire`. */
export async function serveEmbeddings(ctx: ServerContext, decoded: unknown, signal: AbortSignal, wire: EmbedWire): Promise<void> {
  const config = ctx.config();
  const call = parse(decoded, wire.wire);
  const target = wire.endpoint ?? (typeof call === 'string' ? null : call.model) ?? config.modelName;
  wire.record.setTarget(target);
  const behaviour = behaviourFor(config, target);
  if (typeof call === 'string') return wire.fail(openAiError(wire.wire === 'tei' ? 422 : 400, call));
  if (ctx.errorRate.hit(target, behaviour.errorRate)) {
    wire.record.fault('errorRate');
    return wire.fail(openAiError(500, INJECTED_FAILURE));
  }
  const result = embedAll(call, behaviour);
  if (typeof result === 'string') return wire.fail(openAiError(400, result));
  if (!(await waitForGeneration(1, behaviour, signal))) return wire.record.cancelled(result.tokens);
  const body =
    wire.wire === 'tei'
      ? JSON.stringify(result.vectors)
      : JSON.stringify({
          object: 'list',
          data: result.vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
          model: call.model ?? config.modelName,
          usage: { prompt_tokens: result.tokens, total_tokens: result.tokens },
        });
  wire.send(body, result.tokens);
  wire.record.succeeded(result.tokens, 0);
}

/** `POST /v1/embeddings` (vLLM, TEI) and `POST /embed` (TEI native, token count in `x-compute-tokens`). */
export async function handleHttpEmbeddings(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, wire: 'openai' | 'tei'): Promise<void> {
  const signal = ctx.track(res);
  const config = ctx.config();
  const record = ctx.stats.begin(wire === 'openai' ? 'openai.embeddings' : 'tei.embeddings', config.modelName);
  const fail = (error: ContainerError, headers: Record<string, string> = {}) => {
    sendBody(res, error.status, { 'Content-Type': error.contentType, ...headers }, error.body);
    record.failed(error.status);
  };
  let body: Buffer;
  try {
    body = await readBody(req, ctx.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return fail(openAiError(413, error.message));
    return record.cancelled(0);
  }
  const decoded = decodeJson(body);
  if (!decoded.ok) return fail(openAiError(400, decoded.message));
  const model = typeof (decoded.value as { model?: unknown } | null)?.model === 'string' ? (decoded.value as { model: string }).model : config.modelName;
  const fault = frontFault(behaviourFor(config, model), Date.now());
  if (fault) {
    record.setTarget(model);
    record.fault(fault.kind);
    const status = fault.kind === 'warming' ? 503 : fault.status;
    const retry: Record<string, string> = status === 429 || status === 503 ? { 'Retry-After': String(fault.retryAfterSeconds) } : {};
    return fail(openAiError(status, `${INJECTED_FAILURE} (${fault.kind})`), retry);
  }
  const send = (json: string, tokens: number) =>
    sendBody(res, 200, { 'Content-Type': 'application/json', ...(wire === 'tei' ? { 'x-compute-tokens': String(tokens) } : {}) }, json);
  return serveEmbeddings(ctx, decoded.value, signal, { wire, record, fail, send });
}
