/**
 * The OpenAI-compatible API as vLLM serves it (what the ECS GPU service runs):
 * `POST /v1/chat/completions`, `POST /v1/completions` (JSON or SSE with `data: [DONE]`), `POST
 * /v1/responses` (the Responses API and its event stream) and
 * `GET /v1/models`. Any `model` name is accepted (vLLM would 404 an unknown one) so one server can
 * stand in for several models; per-model overrides use the `endpoints` config.
 */
import type { ServerResponse } from 'node:http';
import type { HttpInferenceRoute } from './container-routes';
import { sendJson } from './io';
import type { ServerContext } from './serve';

/** `POST /v1/chat/completions`. */
export const openAiChatRoute: HttpInferenceRoute = { route: 'openai.chat', format: 'openai-chat', streaming: 'request' };

/** `POST /v1/responses` (the Responses API, as vLLM serves it). */
export const openAiResponsesRoute: HttpInferenceRoute = { route: 'openai.responses', format: 'openai-responses', streaming: 'request' };

/** `POST /v1/completions`. */
export const openAiCompletionsRoute: HttpInferenceRoute = { route: 'openai.completions', format: 'openai-completions', streaming: 'request' };

/** `GET /v1/models`: the configured model, in vLLM's shape. */
export function handleModels(ctx: ServerContext, res: ServerResponse, startedAt: number): void {
  const { modelName, maxModelLen } = ctx.config();
  sendJson(res, 200, {
    object: 'list',
    data: [
      { id: modelName, object: 'model', created: Math.floor(startedAt / 1000), owned_by: 'vllm', root: modelName, parent: null, max_model_len: maxModelLen },
    ],
  });
}
