/**
 * The native path of `POST /v1/responses`, for a model whose route says `responses: "native"`: its
 * server (vLLM) serves the Responses API itself, so the request goes to it as the client sent it,
 * function tools, tool calls and `text.format` included, through the ECS adapter's relay path
 * (shared/contracts/responses.ts), with the same routing (retries, breakers, fallbacks) as every
 * call. The gateway keeps what is its own: plan checks, limits (the reservation settled to the
 * answer's usage), Idempotency-Key, stored responses and `previous_response_id` (resolved here into
 * `input`; the container stores nothing), its own `resp_` ids, `output_text`, and the OpenAI error
 * envelope. Not cached (`X-Cache: BYPASS`): a native answer may hold tool calls, which the response
 * cache's text entries do not carry.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { nextHopContext } from '../tracing';
import { SSE_HEADERS, isEventStream } from '../../../shared/contracts/boundary';
import { DEFAULT_MAX_TOKENS } from '../../../shared/contracts/infer';
import {
  type BackendResponsesRequest,
  RESPONSES_FINAL_EVENTS,
  RESPONSES_RELAY_FAILURE,
  RESPONSES_RELAY_PATH,
  type ResponseCreateRequest,
} from '../../../shared/contracts/responses';
import { sha256Hex } from '../../../shared/crypto/hash';
import { SseParser, sseEvent } from '../../../shared/sse';
import { ERROR_CODES, type ErrorCode } from '../../../shared/errors';
import { estimateTokens } from '../../../shared/tokens';
import type { AppEnv } from '../../env';
import { ApiError } from '../../errors';
import { idempotentHandler } from '../../stages/idempotency';
import { backendFailure, postToAdapter } from '../backend-client';
import { backgroundFor } from '../background';
import { IdleWatch } from '../deadline';
import { canonicalJson } from '../cache/key';
import type { IsolateServices } from '../isolate';
import type { ModelRoute } from '../route-table';
import { type Attempt, runRouted } from '../routing/execute';
import { openAiError } from '../translate';
import { servedHeaders } from '../upstream';
import { inputItems } from './conversation';
import { type StoredResponse, tenantResponses } from './store';

type Json = Record<string, unknown>;

/** The fields of a relayed response object the gateway owns. */
function owned(response: Json, ours: { id: string; created: number; model: string; body: ResponseCreateRequest; store: boolean }): Json {
  const output = Array.isArray(response.output) ? (response.output as Json[]) : [];
  const text = output
    .filter((item) => item.type === 'message' && Array.isArray(item.content))
    .flatMap((item) => item.content as Json[])
    .filter((part) => part.type === 'output_text' && typeof part.text === 'string')
    .map((part) => part.text as string)
    .join('');
  return {
    ...response,
    id: ours.id,
    created_at: ours.created,
    model: ours.model,
    instructions: ours.body.instructions ?? null,
    previous_response_id: ours.body.previous_response_id ?? null,
    store: ours.store,
    metadata: ours.body.metadata ?? {},
    output_text: text,
    ...(ours.body.user !== undefined ? { user: ours.body.user } : {}),
  };
}

const usageTotal = (response: unknown): number | undefined => {
  const usage = (response as { usage?: { total_tokens?: unknown; input_tokens?: unknown; output_tokens?: unknown } } | null)?.usage;
  if (typeof usage?.input_tokens === 'number' && typeof usage.output_tokens === 'number') return usage.input_tokens + usage.output_tokens;
  return undefined;
};

async function post(attempt: Attempt, c: Context<AppEnv>, payload: BackendResponsesRequest): Promise<Response> {
  const { backend, signal } = attempt;
  return postToAdapter(backend, RESPONSES_RELAY_PATH, payload, {
    aws: c.get('config').aws,
    signal,
    trace: nextHopContext(c.get('trace'), c.get('config')),
  });
}

/** Reads the relay's SSE events one by one; ends after a final event or a relay failure. */
async function* relayEvents(body: ReadableStream<Uint8Array>, attempt: Attempt): AsyncGenerator<{ event: string; data: Json }, void, undefined> {
  const parser = new SseParser();
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  // The longest gap a stream may leave between events is the backend's tier timeout.
  const idle = new IdleWatch(attempt.timeoutMs, () =>
    attempt.abort(new ApiError('TIMEOUT', `backend ${attempt.backend.name} sent nothing for ${attempt.timeoutMs} ms`)),
  );
  try {
    for (;;) {
      idle.waiting();
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch {
        const reason = attempt.signal.reason;
        yield {
          event: RESPONSES_RELAY_FAILURE,
          data: {
            code: reason instanceof ApiError ? reason.code : 'UPSTREAM_ERROR',
            message: reason instanceof ApiError ? reason.message : 'the backend stream failed',
          },
        };
        return;
      } finally {
        idle.resumed();
      }
      for (const message of chunk.done ? parser.end() : parser.push(chunk.value)) {
        let data: Json;
        try {
          data = JSON.parse(message.data) as Json;
        } catch {
          yield { event: RESPONSES_RELAY_FAILURE, data: { code: 'UPSTREAM_ERROR', message: `backend ${attempt.backend.name} sent an invalid stream event` } };
          return;
        }
        yield { event: message.event, data };
        if (message.event === RESPONSES_RELAY_FAILURE || RESPONSES_FINAL_EVENTS.includes(message.event)) return;
      }
      if (chunk.done) {
        yield { event: RESPONSES_RELAY_FAILURE, data: { code: 'UPSTREAM_ERROR', message: `backend ${attempt.backend.name} ended the stream early` } };
        return;
      }
    }
  } finally {
    idle.stop();
    await reader.cancel().catch(() => {});
  }
}

/** Answers `body` on the native path of `route`. */
export async function nativeResponse(
  c: Context<AppEnv>,
  deps: Pick<IsolateServices, 'quotaGate' | 'metrics' | 'health' | 'now'>,
  route: ModelRoute,
  body: ResponseCreateRequest,
  prior: readonly unknown[] | undefined,
  storing: boolean,
): Promise<Response> {
  const config = c.get('config');
  const auth = c.get('auth');
  const store = c.get('store');
  const requestId = c.get('requestId');
  const { plan } = auth;
  if (plan.allowedModels && !plan.allowedModels.includes(body.model)) {
    throw new ApiError('FORBIDDEN', `model '${body.model}' is not enabled for this tenant`, { details: { model: body.model } });
  }
  const requested = body.max_output_tokens ?? undefined;
  if (requested !== undefined && requested > plan.maxTokens) {
    throw new ApiError('INVALID_INPUT', `max_output_tokens ${requested} exceeds this plan's limit of ${plan.maxTokens}`, {
      details: { issues: [{ path: 'max_output_tokens', message: `at most ${plan.maxTokens}` }] },
    });
  }
  const maxOutputTokens = requested ?? Math.min(DEFAULT_MAX_TOKENS, plan.maxTokens);
  const input = [...(prior ?? []), ...inputItems(body.input)];
  const { previous_response_id: _previous, store: _store, ...rest } = body;
  const payload: BackendResponsesRequest = {
    request_id: requestId,
    tenant_id: auth.tenantId,
    model: body.model,
    stream: body.stream === true,
    body: { ...rest, input, max_output_tokens: maxOutputTokens },
  };

  // Idempotency-Key as on the chain's routes: the same primitive, run around this whole path.
  return idempotentHandler(deps.now)(
    c,
    () => sha256Hex(`${c.req.path}\n${canonicalJson(payload.body)}`),
    async () => {
      const later = backgroundFor(c);
      const admitted = await deps.quotaGate.admit({
        store,
        plan,
        tenantId: auth.tenantId,
        tokens: estimateTokens(`${body.instructions ?? ''}\n${JSON.stringify(input)}`) + maxOutputTokens,
        policy: config.limits,
        background: later,
        metrics: deps.metrics,
      });
      let settleOutcome: (usage: { prompt_tokens: number; completion_tokens: number } | undefined) => void = () => {};
      const outcome = c.get('outcome');
      if (outcome) outcome.usage = new Promise((resolve) => (settleOutcome = resolve));
      // The usage ledger's facts follow the same settlement (a relayed container's reported usage).
      const facts = c.get('usage');
      let factsSettled = () => {};
      if (facts)
        Object.assign(facts, { model: body.model, stream: payload.stream, cache: 'BYPASS', settled: new Promise<void>((resolve) => (factsSettled = resolve)) });
      const settleUsage = (usage: { prompt_tokens: number; completion_tokens: number } | undefined) => {
        settleOutcome(usage);
        if (facts) {
          const tokens = { promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? 0 };
          Object.assign(facts, tokens, { backendPromptTokens: tokens.promptTokens, backendCompletionTokens: tokens.completionTokens, endedAt: deps.now() });
        }
        factsSettled();
      };
      const settle = (tokens: number | undefined) => later(admitted.settle(tokens ?? 0));
      const headers = { ...admitted.headers, 'X-Cache': 'BYPASS' };
      const created = Math.floor(deps.now() / 1000);
      const ours = { id: `resp_${crypto.randomUUID().replaceAll('-', '')}`, created, model: body.model, body, store: storing && body.store !== false };
      const responses = tenantResponses(c);
      const abort = new AbortController();

      const routeRequest = {
        table: config.routes,
        route,
        model: body.model,
        tenantId: auth.tenantId,
        requestId,
        traceId: c.get('trace').traceId,
        priority: plan.priority,
        signal: abort.signal,
        metrics: deps.metrics,
      };
      const failed = (err: unknown): never => {
        settle(0);
        settleUsage(undefined);
        throw err;
      };

      if (!payload.stream) {
        const routed = await runRouted(routeRequest, { health: deps.health, now: deps.now }, async (attempt) => {
          const res = await post(attempt, c, payload);
          const json = (await res.json().catch(() => undefined)) as Json | undefined;
          if (!res.ok) throw backendFailure(attempt.backend, res, json);
          if (json?.object !== 'response') throw new ApiError('UPSTREAM_ERROR', `backend ${attempt.backend.name} returned an invalid response`);
          return json;
        }).catch(failed);
        const response = owned(routed.value, ours);
        const total = usageTotal(response);
        settle(total);
        settleUsage(usageOf(response));
        if (ours.store) await responses.save(response as StoredResponse['response'], input);
        return c.json(response, 200, { ...headers, ...servedHeaders(routed) });
      }

      const routed = await runRouted(routeRequest, { health: deps.health, now: deps.now }, async (attempt) => {
        const res = await post(attempt, c, payload);
        if (!res.ok || !isEventStream(res.headers.get('content-type')) || !res.body) {
          const json = await res.json().catch(() => undefined);
          throw backendFailure(attempt.backend, res, json, res.ok);
        }
        const events = relayEvents(res.body, attempt);
        const first = await events.next();
        if (first.done || first.value.event === RESPONSES_RELAY_FAILURE) {
          await events.return(undefined);
          const data = first.done ? undefined : (first.value.data as { code?: string; message?: string });
          throw new ApiError('UPSTREAM_ERROR', data?.message ?? `backend ${attempt.backend.name} ended the stream at once`, {
            status: 502 as ContentfulStatusCode,
            details: { reason: 'stream_failed_before_first_token' },
          });
        }
        return { first: first.value, events };
      }).catch(failed);

      const { first, events } = routed.value;
      const encoder = new TextEncoder();
      let sequence = -1;
      let done = false;
      const frame = (event: { event: string; data: Json }) => {
        // Events keep the container's numbers; one without a number gets the next.
        sequence = typeof event.data.sequence_number === 'number' ? event.data.sequence_number : sequence + 1;
        const response = event.data.response && typeof event.data.response === 'object' ? { response: owned(event.data.response as Json, ours) } : {};
        return sseEvent(event.event, { ...event.data, sequence_number: sequence, ...response });
      };
      const failure = (error: { code: ErrorCode; message: string }) => {
        const failedResponse = {
          ...owned({ object: 'response', output: [], usage: null }, ours),
          status: 'failed',
          error: { code: 'server_error', message: error.message },
        };
        const apiError = openAiError(error);
        return (
          sseEvent('response.failed', { type: 'response.failed', sequence_number: ++sequence, response: failedResponse }) +
          sseEvent('error', { type: 'error', sequence_number: ++sequence, code: error.code, message: error.message, param: null, error: apiError })
        );
      };
      async function* all(): AsyncGenerator<{ event: string; data: Json }, void, undefined> {
        yield first;
        for await (const event of events) yield event;
      }
      const stream = all();
      const bodyStream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const broken: { event: string; data: Json } = {
            event: RESPONSES_RELAY_FAILURE,
            data: { code: 'UPSTREAM_ERROR', message: 'the backend stream failed' },
          };
          const next = await stream.next().catch(() => ({ done: false as const, value: broken }));
          if (next.done || done) {
            controller.close();
            return;
          }
          const event = next.value;
          // The container's own in-band error says too little to pass on (and may name internals): a failure like the relay's.
          if (event.event === 'error') event.event = RESPONSES_RELAY_FAILURE;
          if (event.event === RESPONSES_RELAY_FAILURE) {
            done = true;
            settleUsage(undefined);
            const data = (event.data.type === 'error' ? { message: 'the model failed while streaming' } : event.data) as { code?: unknown; message?: unknown };
            const code = typeof data.code === 'string' && (ERROR_CODES as readonly string[]).includes(data.code) ? (data.code as ErrorCode) : 'UPSTREAM_ERROR';
            controller.enqueue(encoder.encode(failure({ code, message: typeof data.message === 'string' ? data.message : 'the backend stream failed' })));
            controller.close();
            return;
          }
          if (RESPONSES_FINAL_EVENTS.includes(event.event)) {
            done = true;
            const response = event.data.response && typeof event.data.response === 'object' ? owned(event.data.response as Json, ours) : undefined;
            settle(usageTotal(response));
            settleUsage(usageOf(response));
            if (response && ours.store && event.event !== 'response.failed' && event.event !== 'error') {
              const stored = await responses.save(response as StoredResponse['response'], input).then(
                () => true,
                () => false,
              );
              if (!stored) {
                controller.enqueue(encoder.encode(failure({ code: 'UPSTREAM_ERROR', message: 'the response store is unavailable; retry shortly' })));
                controller.close();
                return;
              }
            }
          }
          controller.enqueue(encoder.encode(frame(event)));
          if (done) controller.close();
        },
        async cancel() {
          abort.abort();
          // The client left: the relay reported no usage (the ledger records the stream as incomplete).
          if (!done) {
            if (facts) facts.incomplete = 'client';
            settleUsage(undefined);
          }
          await stream.return(undefined);
        },
      });
      return new Response(bodyStream, { status: 200, headers: { ...SSE_HEADERS, ...headers, ...servedHeaders(routed) } });
    },
  );
}

function usageOf(response: unknown): { prompt_tokens: number; completion_tokens: number } | undefined {
  const usage = (response as { usage?: { input_tokens?: unknown; output_tokens?: unknown } } | null)?.usage;
  if (typeof usage?.input_tokens !== 'number' || typeof usage.output_tokens !== 'number') return undefined;
  return { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens };
}
