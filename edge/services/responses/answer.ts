/**
 * Responses API answers from backend results and stream events: the response object (a `message`
 * output item with one `output_text` part and a `function_call` item per tool call, `usage`,
 * `output_text`), and the stream's event sequence with `sequence_number`s, as the SDKs' stream
 * helpers assemble it (./output.ts builds the items and their events):
 *
 *   response.created → response.in_progress → per item: response.output_item.added →
 *   (response.content_part.added → response.output_text.delta … → response.output_text.done →
 *   response.content_part.done) or (response.function_call_arguments.delta … →
 *   response.function_call_arguments.done) → response.output_item.done; → response.completed
 *
 * A stream that fails after it started ends with `response.failed`, then `error` (whose `error`
 * field makes the SDKs raise an APIError, as on chat completions). An answer stopped by
 * `max_output_tokens` has status `incomplete`; its stream still ends with `response.completed`, as
 * vLLM's does, so helpers waiting for it get the final response. A stored answer is written before
 * the client gets it (the JSON, or `response.completed`), so a follow-up may name it at once.
 */
import type { Context } from 'hono';
import type { BackendInferResponse, BackendStreamEvent, FinishReason } from '../../../shared/contracts/backend';
import type { Usage } from '../../../shared/contracts/infer';
import type { ResponseObject, ResponseOutputItem, ResponseStreamEventType } from '../../../shared/contracts/responses';
import type { ErrorObject } from '../../../shared/errors';
import { sseEvent } from '../../../shared/sse';
import type { AppEnv } from '../../env';
import { sseResponse } from '../sse-response';
import { type AnswerMeta, type NormalizedRequest, openAiError, type StreamEncoder } from '../translate';
import { outputItems, outputText, StreamOutput } from './output';
import { tenantResponses } from './store';

type ResponsesRequest = Extract<NormalizedRequest, { flavour: 'responses' }>;
type Meta = Omit<AnswerMeta, 'latencyMs'>;

/** How far an answer got. */
type Outcome =
  | { readonly status: 'in_progress' }
  | {
      readonly status: 'done';
      /** The output items, built with the item status `finish` gives (see {@link itemStatus}). */
      readonly output: readonly ResponseOutputItem[];
      readonly usage: Usage;
      readonly finish: FinishReason | undefined;
      readonly at: number;
    }
  | { readonly status: 'failed'; readonly error: ErrorObject };

/** An answer stopped by `max_output_tokens` leaves its message incomplete. */
const itemStatus = (finish: FinishReason | undefined) => (finish === 'length' ? 'incomplete' : 'completed');

/** The response object of `req` at `outcome`. */
export function responseObject(req: ResponsesRequest, meta: Meta, outcome: Outcome): ResponseObject {
  const r = req.responses;
  const done = outcome.status === 'done' ? outcome : undefined;
  const incomplete = done?.finish === 'length';
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.created,
    completed_at: done ? Math.floor(done.at / 1000) : null,
    status: done ? (incomplete ? 'incomplete' : 'completed') : outcome.status === 'failed' ? 'failed' : 'in_progress',
    error:
      outcome.status === 'failed'
        ? { code: outcome.error.code === 'RATE_LIMITED' ? 'rate_limit_exceeded' : 'server_error', message: outcome.error.message }
        : null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    model: meta.model,
    instructions: r.instructions,
    output: done ? [...done.output] : [],
    output_text: done ? outputText(done.output) : '',
    usage: done
      ? {
          input_tokens: done.usage.prompt_tokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: done.usage.completion_tokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: done.usage.prompt_tokens + done.usage.completion_tokens,
        }
      : null,
    max_output_tokens: r.maxOutputTokens,
    temperature: r.temperature,
    top_p: r.topP,
    previous_response_id: r.previousResponseId,
    store: r.store,
    metadata: { ...r.metadata },
    tools: [...r.tools],
    tool_choice: r.toolChoice,
    parallel_tool_calls: r.parallelToolCalls,
    text: { format: { ...r.textFormat } },
    truncation: 'disabled',
    reasoning: { effort: null, summary: null },
    ...(r.user !== undefined ? { user: r.user } : {}),
  };
}

/** The JSON answer; a stored one is written first (a store failure is a 503 with Retry-After). */
export async function responsesJson(
  c: Context<AppEnv>,
  req: ResponsesRequest,
  meta: Meta,
  result: BackendInferResponse,
  now: () => number,
  headers: Record<string, string>,
): Promise<Response> {
  const output = outputItems(meta.id, result.output, result.tool_calls ?? [], itemStatus(result.finish_reason));
  const response = responseObject(req, meta, { status: 'done', output, usage: result.usage, finish: result.finish_reason, at: now() });
  if (req.responses.store) await tenantResponses(c).save(response, req.responses.input);
  return c.json(response, 200, headers);
}

export interface ResponsesStreamOptions {
  readonly now: () => number;
  readonly elapsedMs: () => number;
  readonly headers: Record<string, string>;
  readonly abortUpstream: () => void;
}

/** The SSE answer: the event sequence above, live from the backend or replayed from a cache entry. */
export function responsesStream(
  c: Context<AppEnv>,
  req: ResponsesRequest,
  meta: Meta,
  events: AsyncGenerator<BackendStreamEvent, void, undefined>,
  options: ResponsesStreamOptions,
): Response {
  const store = req.responses.store ? tenantResponses(c) : undefined;
  let final: ResponseObject | undefined;
  let sequence = 0;
  const send = (type: ResponseStreamEventType, fields: Record<string, unknown>) => sseEvent(type, { type, sequence_number: sequence++, ...fields });
  const output = new StreamOutput(meta.id, send as (type: string, fields: Record<string, unknown>) => string);

  // Builds the final response when `done` arrives and stores it before `done` is passed on; a
  // store failure replaces `done` with an error event, so the client never sees an unstored success.
  // Every token before `done` has been encoded by then (the encoder pulls events one at a time), so
  // the final response holds exactly the items the events built.
  async function* finishing(): AsyncGenerator<BackendStreamEvent, void, undefined> {
    for await (const event of events) {
      if (event.event === 'done') {
        const finish = event.data.finish_reason;
        final = responseObject(req, meta, { status: 'done', output: output.final(itemStatus(finish)), usage: event.data.usage, finish, at: options.now() });
        const failure = await store?.save(final, req.responses.input).then(
          () => undefined,
          (err: unknown): BackendStreamEvent => ({
            event: 'error',
            data: { code: 'UPSTREAM_ERROR', message: err instanceof Error ? err.message : 'the response store is unavailable' },
          }),
        );
        if (failure) {
          yield failure;
          return;
        }
      }
      yield event;
    }
  }

  const encoder: StreamEncoder = {
    start() {
      const started = responseObject(req, meta, { status: 'in_progress' });
      // Without tools the answer is one message: its item opens at once, as it always has.
      const head = send('response.created', { response: started }) + send('response.in_progress', { response: started });
      return head + (req.chat?.options.tools ? '' : output.openMessage());
    },
    event(e) {
      if (e.event === 'token') return output.token(e.data);
      if (e.event === 'done' && final) return output.finish(itemStatus(e.data.finish_reason)) + send('response.completed', { response: final });
      const error = e.event === 'error' ? e.data : { code: 'UPSTREAM_ERROR' as const, message: 'the backend stream failed' };
      return [
        send('response.failed', { response: responseObject(req, meta, { status: 'failed', error }) }),
        send('error', { code: error.code, message: error.message, param: null, error: openAiError(error) }),
      ].join('');
    },
  };
  return sseResponse(finishing(), { encoder, elapsedMs: options.elapsedMs, headers: options.headers, abortUpstream: options.abortUpstream });
}
