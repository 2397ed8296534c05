/**
 * The completion routes: the seed contract (`/v1/infer`, `/v1/infer/stream`) and the OpenAI-compatible
 * `/v1/chat/completions` and `/v1/completions`, documented in OpenAPI from the shared schemas.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { InferRequestSchema, InferResponseSchema } from '../../shared/contracts/infer';
import { ChatCompletionRequestSchema, ChatCompletionSchema, CompletionRequestSchema, CompletionSchema } from '../../shared/contracts/openai';
import type { AppEnv } from '../env';
import { fromChat, fromCompletion, fromInfer } from '../services/translate';
import { asRouteResponse, BEARER_SECURITY, ERROR_RESPONSES, authenticatedJson, jsonRequest } from './common';
import type { IsolateServices } from '../services/isolate';
import { inferenceChain } from '../stages/chain';
import { validationHook } from './validation';

const SSE = (description: string) => ({ description, content: { 'text/event-stream': { schema: z.string() } } });

export function completionRoutes(deps: IsolateServices) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const inference = inferenceChain(deps);

  const infer = createRoute({
    method: 'post',
    path: '/v1/infer',
    summary: 'Synchronous inference',
    middleware: authenticatedJson(deps, 'infer'),
    security: BEARER_SECURITY,
    request: jsonRequest(InferRequestSchema),
    responses: { 200: { description: 'The model output', content: { 'application/json': { schema: InferResponseSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(infer, (c) => asRouteResponse(inference(c, fromInfer(c.req.valid('json'), false))));

  const inferStream = createRoute({
    method: 'post',
    path: '/v1/infer/stream',
    summary: 'Streaming inference (SSE: token events, then done; error if it fails mid-stream)',
    middleware: authenticatedJson(deps, 'infer'),
    security: BEARER_SECURITY,
    request: jsonRequest(InferRequestSchema),
    responses: { 200: SSE('`event: token` / `data: {"text"}` per chunk, then `event: done` with {id, usage, latency_ms}'), ...ERROR_RESPONSES },
  });
  app.openapi(inferStream, (c) => asRouteResponse(inference(c, fromInfer(c.req.valid('json'), true))));

  const chat = createRoute({
    method: 'post',
    path: '/v1/chat/completions',
    summary: 'OpenAI-compatible chat completions (sync or `stream: true`)',
    middleware: authenticatedJson(deps, 'infer', { vision: true }),
    security: BEARER_SECURITY,
    request: jsonRequest(ChatCompletionRequestSchema),
    responses: {
      200: {
        description: 'A chat completion, or chat.completion.chunk SSE when streaming',
        content: { 'application/json': { schema: ChatCompletionSchema }, 'text/event-stream': { schema: z.string() } },
      },
      ...ERROR_RESPONSES,
    },
  });
  app.openapi(chat, (c) => asRouteResponse(inference(c, fromChat(c.req.valid('json')))));

  const completions = createRoute({
    method: 'post',
    path: '/v1/completions',
    summary: 'OpenAI-compatible legacy completions (sync or `stream: true`)',
    middleware: authenticatedJson(deps, 'infer'),
    security: BEARER_SECURITY,
    request: jsonRequest(CompletionRequestSchema),
    responses: {
      200: {
        description: 'A text completion, or text_completion SSE chunks when streaming',
        content: { 'application/json': { schema: CompletionSchema }, 'text/event-stream': { schema: z.string() } },
      },
      ...ERROR_RESPONSES,
    },
  });
  app.openapi(completions, (c) => asRouteResponse(inference(c, fromCompletion(c.req.valid('json')))));

  return app;
}
