/**
 * The relay path through the ECS adapter's real streaming handler in the local Lambda host, called
 * with SigV4 like the edge, to the reference model server's Responses API (as vLLM serves it).
 */
import '../../tools/lambda-host/register';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendErrorSchema } from '../../shared/contracts/backend';
import { SSE_HEADERS } from '../../shared/contracts/boundary';
import { RESPONSES_RELAY_FAILURE, RESPONSES_RELAY_PATH } from '../../shared/contracts/responses';
import { generationFor } from '../../tools/model-server/formats';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import { ecsBackend } from '../adapters/ecs/transport';
import type { EcsModel } from '../config/ecs';
import { createStreamingHandler } from '../handlers/lambda-stream';
import { SseReader, eventually, quietPowertools, startAdapterHost, type AdapterHost } from '../testing/lambda';

let server: ModelServer;
let adapters: AdapterHost;

const models = (root: string): Record<string, EcsModel> => ({
  'vllm-chat': { format: 'openai-chat', modelId: 'llama-chat', baseUrl: `${root}/v1`, chatTemplate: 'default' },
  'tgi-native': { format: 'tgi', modelId: 'tgi-native', baseUrl: root, chatTemplate: 'default' },
});

beforeAll(async () => {
  server = await startModelServer();
  const handler = createStreamingHandler({
    backend: ecsBackend({ models: models(server.url), timeouts: { requestMs: 5000, firstTokenMs: 5000, idleMs: 5000 } }),
    powertools: quietPowertools('ecs-adapter'),
    logPayloads: false,
  });
  adapters = await startAdapterHost({ ecs: handler });
});
afterAll(async () => {
  await adapters?.close();
  await server?.close();
});
beforeEach(() => server.reset());

const relay = (model: string, body: Record<string, unknown>, stream = false) =>
  adapters.call('ecs', JSON.stringify({ request_id: 'req-relay', tenant_id: 'ten-1', model, stream, body }), { path: RESPONSES_RELAY_PATH });
const input = [{ role: 'user', content: 'Name a river.' }];

describe('Responses relay (ECS adapter)', () => {
  it("answers the container's response object, under the container's model id", async () => {
    const res = await relay('vllm-chat', { model: 'vllm-chat', input, max_output_tokens: 5, temperature: 0, store: true });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; model: string; output: { content: { text: string }[] }[]; usage: { output_tokens: number } };
    const expected = generationFor({ model: 'm', messages: input, max_tokens: 5, temperature: 0 });
    expect(body).toMatchObject({ object: 'response', model: 'llama-chat', usage: { output_tokens: 5 } });
    expect(body.output[0]?.content[0]?.text).toBe(expected.text);
    expect(server.stats().byRoute['openai.responses']).toMatchObject({ invocations: 1, succeeded: 1 });
  });

  it('relays the event stream whole event by event, ending with its final event', async () => {
    const res = await relay('vllm-chat', { input, max_output_tokens: 6 }, true);
    expect(res.headers.get('content-type')).toBe(SSE_HEADERS['content-type']);
    const events = await new SseReader(res).rest();
    const types = events.map((e) => e.event);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.at(-1)).toBe('response.completed');
    const sequence = events.map((e) => (JSON.parse(e.data) as { sequence_number: number }).sequence_number);
    expect(sequence).toEqual(events.map((_, i) => i));
    await eventually(() => server.stats().byRoute['openai.responses']?.streamsCompleted === 1);
    expect(server.stats().totals.cancelled).toBe(0);
  });

  it('passes a function tool through: the container calls it', async () => {
    const tools = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} } }];
    const res = await relay('vllm-chat', { input, tools, tool_choice: 'required' });
    const body = (await res.json()) as { output: { type: string; name: string }[] };
    expect(body.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather' });
  });

  it('ends a stream cut by the container with a relay failure event', async () => {
    server.setConfig({ streamCutAfter: 2 });
    const events = await new SseReader(await relay('vllm-chat', { input, max_output_tokens: 10 }, true)).rest();
    const last = events.at(-1)!;
    expect(['error', RESPONSES_RELAY_FAILURE]).toContain(last.event);
    expect(events.map((e) => e.event)).not.toContain('response.completed');
  });

  it('answers failures before the stream as status + BackendError', async () => {
    const notServed = await relay('tgi-native', { input });
    expect(notServed.status).toBe(400);
    expect(BackendErrorSchema.parse(await notServed.json()).error.message).toContain('Responses API');
    server.setConfig({ forcedStatus: 503, retryAfterSeconds: 3 });
    const unavailable = await relay('vllm-chat', { input }, true);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('3');
    expect((await relay('no-such-model', { input })).status).toBe(404);
  });
});
