/**
 * The SageMaker adapter as it runs in production: its streaming handler inside the local Lambda host
 * (Function URL, AWS_IAM, RESPONSE_STREAM), called with SigV4 like the edge, using the real
 * @aws-sdk/client-sagemaker-runtime against the reference model server, for every container format.
 */
import '../../tools/lambda-host/register';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendErrorSchema, BackendInferResponseSchema, BackendStreamEventSchemas, type ChatMessage } from '../../shared/contracts/backend';
import { SSE_HEADERS } from '../../shared/contracts/boundary';
import { estimateTokens } from '../../shared/tokens';
import { countTokens, generate, renderChatPrompt } from '../../tools/model-server/generator';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import { freePort } from '../../tools/lib/net';
import { sagemakerBackend } from '../adapters/sagemaker/transport';
import type { SagemakerModel } from '../config/sagemaker';
import type { Timeouts } from '../core/backend';
import { SseReader, eventually, quietPowertools, startAdapterHost, tokenText, type AdapterHost } from '../testing/lambda';
import { createStreamingHandler } from './lambda-stream';

const MODELS: Record<string, SagemakerModel> = {
  'tgi-model': { endpointName: 'ep-tgi', format: 'tgi', chatTemplate: 'default' },
  'chat-model': { endpointName: 'ep-chat', format: 'openai-chat', modelId: 'llama-chat', chatTemplate: 'default' },
  'completions-model': { endpointName: 'ep-completions', format: 'openai-completions', modelId: 'llama-base', chatTemplate: 'default' },
  'json-model': { endpointName: 'ep-json', format: 'json', chatTemplate: 'default' },
};
const FORMATS = Object.keys(MODELS);
const endpointOf = (model: string) => MODELS[model]!.endpointName;

let server: ModelServer;
let adapters: AdapterHost;
const clients: SageMakerRuntimeClient[] = [];

function handlerFor(endpoint: string, timeouts: Timeouts) {
  const client = new SageMakerRuntimeClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  clients.push(client);
  return createStreamingHandler({
    backend: sagemakerBackend(client, { models: MODELS, timeouts }),
    powertools: quietPowertools('sagemaker-adapter'),
    logPayloads: false,
  });
}

beforeAll(async () => {
  server = await startModelServer();
  const roomy = { requestMs: 5000, firstTokenMs: 5000, idleMs: 5000 };
  adapters = await startAdapterHost({
    sagemaker: handlerFor(server.url, roomy),
    impatient: handlerFor(server.url, { requestMs: 150, firstTokenMs: 150, idleMs: 5000 }),
    unreachable: handlerFor(`http://127.0.0.1:${await freePort()}`, roomy),
  });
});
afterAll(async () => {
  await adapters?.close();
  for (const c of clients) c.destroy();
  await server?.close();
});
beforeEach(() => server.reset());

const prompt = 'Why do GPUs like large batches?';
/** A greedy request (temperature 0), so every container format generates deterministically. */
const request = (model: string, over: Record<string, unknown> = {}, maxTokens = 8) => ({
  request_id: 'req-1',
  tenant_id: 'ten-1',
  model,
  prompt,
  params: { max_tokens: maxTokens, temperature: 0 },
  ...over,
});
/**
 * What the reference model server generates for a greedy request, computed independently of the
 * adapter's mapping: chat containers see the prompt as one user turn under their chat template.
 */
const expected = (maxTokens: number, text = prompt) => generate({ prompt: text, maxTokens, temperature: 0, topP: 1, seed: null, stop: [] });
const expectedFor = (model: string, maxTokens: number) =>
  expected(maxTokens, model === 'chat-model' ? renderChatPrompt([{ role: 'user', content: prompt }]) : prompt);

const renderedTokens = (text: string) => countTokens(renderChatPrompt([{ role: 'user', content: text }]));

async function errorOf(res: Response) {
  return BackendErrorSchema.parse(await res.json()).error;
}

describe('non-streaming', () => {
  it.each(FORMATS)('answers %s with the generated text, usage and finish reason', async (model) => {
    const res = await adapters.call('sagemaker', request(model));
    expect(res.status).toBe(200);
    const body = BackendInferResponseSchema.parse(await res.json());
    const gen = expectedFor(model, 8);
    expect(body.output).toBe(gen.text);
    expect(body.finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(8);
    // TGI reports no prompt count: the adapter estimates it; the others report the container's.
    expect(body.usage.prompt_tokens).toBe(model === 'tgi-model' ? estimateTokens(prompt) : gen.promptTokens);
    expect(server.stats().byEndpoint[endpointOf(model)]?.succeeded).toBe(1);
  });

  it('renders chat messages with the one template, so TGI and OpenAI chat containers generate the same text', async () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Name a river.' },
    ];
    const outputs = await Promise.all(
      FORMATS.map(
        async (model) =>
          BackendInferResponseSchema.parse(await (await adapters.call('sagemaker', { ...request(model), prompt: undefined, messages })).json()).output,
      ),
    );
    expect(new Set(outputs)).toEqual(new Set([expected(8, renderChatPrompt(messages)).text]));
  });

  it('carries image parts to an LMI chat container inline, and a TGI container refuses them', async () => {
    const pixel = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    const parts: ChatMessage['parts'] = [
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${pixel}` } },
    ];
    const messages: ChatMessage[] = [{ role: 'user', content: 'What is this?', parts }];
    const res = await adapters.call('sagemaker', { ...request('chat-model'), prompt: undefined, messages });
    expect(res.status).toBe(200);
    const body = BackendInferResponseSchema.parse(await res.json());
    expect(body.output).toBe(`I see 1 image: image/png (${atob(pixel).length} bytes).`);
    expect(body.usage.prompt_tokens).toBe(renderedTokens('What is this?') + 765);
    const refused = await adapters.call('sagemaker', { ...request('tgi-model'), prompt: undefined, messages });
    expect(refused.status).toBe(400);
    expect((await errorOf(refused)).message).toContain("image parts: not supported by container format 'tgi'");
  });

  it('trims a TGI stop sequence off the output (OpenAI semantics, like the other formats)', async () => {
    const gen = expected(12);
    const stop = gen.text.split(' ').slice(2, 3).join(' ');
    const res = await adapters.call('sagemaker', request('tgi-model', { params: { max_tokens: 12, temperature: 0, stop } }));
    const body = BackendInferResponseSchema.parse(await res.json());
    expect(body.output).toBe(gen.text.slice(0, gen.text.indexOf(stop)));
    expect(body.finish_reason).toBe('stop');
  });
});

describe('streaming', () => {
  it.each(FORMATS.flatMap((model) => (['event', 'split', 'coalesce'] as const).map((framing) => [model, framing] as const)))(
    'streams %s as token events then done (PayloadPart framing: %s)',
    async (model, payloadFraming) => {
      server.setConfig({ payloadFraming });
      const res = await adapters.call('sagemaker', request(model, { stream: true }, 24));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(SSE_HEADERS['content-type']);
      const events = await new SseReader(res).rest();
      expect(tokenText(events)).toBe(expectedFor(model, 24).text);
      const last = events.at(-1)!;
      expect(last.event).toBe('done');
      const done = BackendStreamEventSchemas.done.parse(JSON.parse(last.data));
      expect(done).toMatchObject({ finish_reason: 'length', usage: { completion_tokens: 24 } });
      expect(events.filter((e) => e.event !== 'token')).toHaveLength(1);
    },
  );

  it.each(FORMATS)('delivers the first %s token while the model server is still generating', async (model) => {
    // 2 s between tokens: the first token must reach the caller long before the generation ends.
    server.setConfig({ perTokenMs: 2000 });
    const reader = new SseReader(await adapters.call('sagemaker', request(model, { stream: true }, 3)));
    const first = await reader.next();
    expect(first?.event).toBe('token');
    expect(JSON.parse(first!.data)).toEqual({ text: expectedFor(model, 3).tokens[0]!.text });
    const ep = server.stats().byEndpoint[endpointOf(model)];
    expect(ep?.streamsStarted).toBe(1);
    expect(ep?.streamsCompleted).toBe(0);
    await reader.cancel();
    await eventually(() => server.stats().byEndpoint[endpointOf(model)]?.cancelled === 1);
  });

  it.each(['error', 'close'] as const)('ends a stream cut mid-way (%s) with an error event after the tokens sent', async (streamCutMode) => {
    server.setConfig({ streamCutAfter: 3, streamCutMode, perTokenMs: 5 });
    const res = await adapters.call('sagemaker', request('tgi-model', { stream: true }));
    expect(res.status).toBe(200);
    const events = await new SseReader(res).rest();
    const names = events.map((e) => e.event);
    if (streamCutMode === 'error') expect(names).toEqual(['token', 'token', 'token', 'error']);
    else {
      // An abrupt close (TCP reset) may discard the last bytes already written: the tokens that made
      // it through are relayed, and the stream always ends with one error event, never a hang.
      expect(names.at(-1)).toBe('error');
      expect(names.slice(0, -1).every((n) => n === 'token') && names.length <= 4).toBe(true);
    }
    const last = events.at(-1)!;
    const error = BackendStreamEventSchemas.error.parse(JSON.parse(last.data));
    expect(error.code).toBe('UPSTREAM_ERROR');
    expect(error.details?.['reason']).toBe('model_stream_error');
    expect(last.data).not.toMatch(/injected|reference model server/);
  });

  it('waits for a slow first token within the first-token timeout', async () => {
    server.setConfig({ ttftMs: 300 });
    const res = await adapters.call('sagemaker', request('chat-model', { stream: true }));
    const events = await new SseReader(res).rest();
    expect(events.at(-1)?.event).toBe('done');
    expect(tokenText(events)).toBe(expectedFor('chat-model', 8).text);
  });

  it('answers 504 JSON when the first token misses the timeout, and stops generation upstream', async () => {
    server.setConfig({ ttftMs: 2000 });
    const res = await adapters.call('impatient', request('tgi-model', { stream: true }));
    expect(res.status).toBe(504);
    expect(await errorOf(res)).toMatchObject({ code: 'TIMEOUT', details: { reason: 'first_token_timeout' } });
    await eventually(() => server.stats().byEndpoint['ep-tgi']?.cancelled === 1);
  });

  it('cancels generation at the model server when the caller goes away mid-stream', async () => {
    server.setConfig({ perTokenMs: 100 });
    const res = await adapters.call('sagemaker', request('json-model', { stream: true }, 50));
    const reader = new SseReader(res);
    expect((await reader.next())?.event).toBe('token');
    await reader.cancel();
    await eventually(() => server.stats().byEndpoint['ep-json']?.cancelled === 1);
    expect(server.stats().byEndpoint['ep-json']?.streamsCompleted).toBe(0);
  });

  it('answers a failure before the first byte with status and JSON, not a stream', async () => {
    server.setConfig({ forcedStatus: 429, retryAfterSeconds: 7 });
    const res = await adapters.call('sagemaker', request('tgi-model', { stream: true }));
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('retry-after')).toBe('7');
    expect((await errorOf(res)).code).toBe('RATE_LIMITED');
  });
});

describe('SageMaker errors', () => {
  it.each([
    ['ValidationError', { forcedStatus: 400 }, 400, 'INVALID_INPUT', 'validation', null],
    ['ModelError (container 500)', { forcedStatus: 424 }, 502, 'UPSTREAM_ERROR', 'model_error', null],
    ['ThrottlingException', { forcedStatus: 429, retryAfterSeconds: 7 }, 429, 'RATE_LIMITED', 'throttled', '7'],
    ['InternalFailure', { forcedStatus: 500 }, 502, 'UPSTREAM_ERROR', 'internal_failure', null],
    ['ServiceUnavailable', { forcedStatus: 503, retryAfterSeconds: 4 }, 503, 'UPSTREAM_ERROR', 'unavailable', '4'],
    ['InternalDependencyException', { forcedStatus: 530 }, 502, 'UPSTREAM_ERROR', 'internal_failure', null],
    ['no capacity (scaled to zero)', { warmingForMs: 20_000 }, 503, 'UPSTREAM_ERROR', 'no_capacity', '20'],
    ['ModelNotReadyException', { warmingForMs: 9_000, warmingStyle: 'model-not-ready' }, 503, 'UPSTREAM_ERROR', 'model_not_ready', '9'],
  ] as const)('maps %s', async (_name, config, status, code, reason, retryAfter) => {
    server.setConfig(config);
    const res = await adapters.call('sagemaker', request('tgi-model'));
    expect(res.status).toBe(status);
    expect(res.headers.get('retry-after')).toBe(retryAfter);
    const error = await errorOf(res);
    expect(error).toMatchObject({ code, details: { reason } });
    expect(error.message).not.toMatch(/injected|reference model server|arn:|amazonaws/);
  });

  it('maps a ModelError wrapping a container 4xx to INVALID_INPUT with the sanitised container message', async () => {
    const res = await adapters.call('sagemaker', request('tgi-model', {}, 5000));
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error).toMatchObject({ code: 'INVALID_INPUT', details: { reason: 'model_rejected_input', upstream_status: 422 } });
    expect(error.message).toMatch(/max_new_tokens/);
    expect(error.message).not.toMatch(/https?:|arn:|000000000000/);
  });

  it('answers 504 when the model does not answer within the request timeout, and the model server sees the call cancelled', async () => {
    server.setConfig({ ttftMs: 2000 });
    const res = await adapters.call('impatient', request('json-model'));
    expect(res.status).toBe(504);
    expect((await errorOf(res)).code).toBe('TIMEOUT');
    // The cancellation reaches the model server when the SDK's aborted socket closes: on a loaded
    // machine (the whole suite in parallel) that took more than 3 s once, so this waits longer.
    await eventually(() => server.stats().byEndpoint['ep-json']?.cancelled === 1, 15_000);
  });

  it('answers 503 with Retry-After when the runtime is unreachable', async () => {
    const res = await adapters.call('unreachable', request('tgi-model'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await errorOf(res)).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'unreachable' } });
  });

  it('refuses an unknown model, a bad body and a wrong path in the error shape', async () => {
    expect((await adapters.call('sagemaker', request('no-such-model'))).status).toBe(404);
    const bad = await adapters.call('sagemaker', { ...request('tgi-model'), messages: [{ role: 'user', content: 'x' }] });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(/either prompt or messages/);
    expect((await adapters.call('sagemaker', request('tgi-model'), { path: '/nope' })).status).toBe(404);
    expect(server.stats().totals.invocations).toBe(0);
  });
});
