import {
  InternalDependencyException,
  InternalFailure,
  InvokeEndpointCommand,
  InvokeEndpointWithResponseStreamCommand,
  ModelError,
  ModelNotReadyException,
  ModelStreamError,
  SageMakerRuntimeServiceException,
  ServiceUnavailable,
  ValidationError,
  type SageMakerRuntimeClient,
} from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generationFor } from './formats';
import { NO_CAPACITY_MESSAGE } from './sagemaker-wire';
import { startModelServer, type ModelServer } from './server';
import { collectParts, jsonBytes, rejectionOf, sageMakerClient, sseData, text } from './test-support';

let server: ModelServer;
let client: SageMakerRuntimeClient;

beforeAll(async () => {
  server = await startModelServer();
  client = sageMakerClient(server.url);
});
afterAll(async () => {
  client.destroy();
  await server.close();
});
beforeEach(() => server.reset());

const tgiBody = { inputs: 'What is an edge gateway?', parameters: { max_new_tokens: 12, temperature: 0.7, seed: 7 } };
const chatBody = { model: 'llama', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 10, seed: 3 };
const completionBody = { model: 'llama', prompt: 'Once upon a time', max_tokens: 9 };
const plainBody = { prompt: 'Tell me a story', max_tokens: 8, seed: 1 };

function invoke(body: unknown, endpointName = 'llm') {
  return client.send(new InvokeEndpointCommand({ EndpointName: endpointName, ContentType: 'application/json', Body: jsonBytes(body) }));
}

function invokeStream(body: unknown, endpointName = 'llm') {
  return client.send(new InvokeEndpointWithResponseStreamCommand({ EndpointName: endpointName, ContentType: 'application/json', Body: jsonBytes(body) }));
}

describe('InvokeEndpoint', () => {
  it('answers a TGI body with [{generated_text}] equal to the generator output', async () => {
    const out = await invoke(tgiBody);
    expect(out.ContentType).toBe('application/json');
    expect(out.InvokedProductionVariant).toBe('AllTraffic');
    expect(JSON.parse(text(out.Body))).toEqual([{ generated_text: generationFor(tgiBody).rawText }]);
  });

  it('answers an OpenAI chat body with a chat.completion and usage', async () => {
    const out = JSON.parse(text((await invoke(chatBody)).Body));
    const expected = generationFor(chatBody);
    expect(out).toMatchObject({
      object: 'chat.completion',
      model: 'llama',
      choices: [{ index: 0, message: { role: 'assistant', content: expected.text }, finish_reason: 'length' }],
      usage: { prompt_tokens: expected.promptTokens, completion_tokens: 10, total_tokens: expected.promptTokens + 10 },
    });
  });

  it('answers an OpenAI completions body with a text_completion', async () => {
    const out = JSON.parse(text((await invoke(completionBody)).Body));
    expect(out).toMatchObject({ object: 'text_completion', choices: [{ text: generationFor(completionBody).text }], usage: { completion_tokens: 9 } });
  });

  it('answers a plain JSON body with {output, usage}', async () => {
    const out = JSON.parse(text((await invoke(plainBody)).Body));
    const expected = generationFor(plainBody);
    expect(out).toEqual({
      output: expected.text,
      usage: { prompt_tokens: expected.promptTokens, completion_tokens: 8, total_tokens: expected.promptTokens + 8 },
      finish_reason: 'length',
    });
  });

  it('reports the target variant as the invoked production variant', async () => {
    const out = await client.send(new InvokeEndpointCommand({ EndpointName: 'llm', TargetVariant: 'canary', Body: jsonBytes(plainBody) }));
    expect(out.InvokedProductionVariant).toBe('canary');
  });

  it('reads the body in the format forced for the endpoint', async () => {
    server.setConfig({ endpoints: { 'plain-ep': { format: 'plain' } } });
    const body = { inputs: 'forced format', max_tokens: 4 };
    const out = JSON.parse(text((await invoke(body, 'plain-ep')).Body));
    expect(out.output).toBe(generationFor(body, 'plain').text);
  });

  it('returns the whole container stream when the body asks InvokeEndpoint to stream', async () => {
    const out = await invoke({ ...tgiBody, stream: true });
    expect(out.ContentType).toBe('text/event-stream');
    const events = sseData(text(out.Body)) as { token: { text: string } }[];
    expect(events.map((e) => e.token.text).join('')).toBe(generationFor(tgiBody).rawText);
  });
});

describe('InvokeEndpointWithResponseStream', () => {
  it('streams TGI tokens as one PayloadPart per SSE event, reassembling to the sync output', async () => {
    const sync = JSON.parse(text((await invoke(tgiBody)).Body)) as { generated_text: string }[];
    const out = await invokeStream({ ...tgiBody, stream: true });
    expect(out.ContentType).toBe('text/event-stream');
    const { parts, text: raw, error } = await collectParts(out.Body);
    expect(error).toBeNull();
    expect(parts).toHaveLength(12);
    const events = sseData(raw) as { token: { text: string }; generated_text: string | null }[];
    expect(events.map((e) => e.token.text).join('')).toBe(sync[0]?.generated_text);
    expect(events.at(-1)?.generated_text).toBe(sync[0]?.generated_text);
  });

  it('streams chat chunks with a usage chunk and [DONE]', async () => {
    const body = { ...chatBody, stream: true, stream_options: { include_usage: true } };
    const { text: raw } = await collectParts((await invokeStream(body)).Body);
    const events = sseData(raw);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as { choices: { delta?: { content?: string } }[]; usage: unknown }[];
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(generationFor(chatBody).text);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 10 } });
  });

  it('streams plain JSON lines ending with the full output', async () => {
    const { text: raw } = await collectParts((await invokeStream({ ...plainBody, stream: true })).Body);
    const lines = raw
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { text?: string; output?: string });
    const expected = generationFor(plainBody).text;
    expect(
      lines
        .slice(0, -1)
        .map((l) => l.text)
        .join(''),
    ).toBe(expected);
    expect(lines.at(-1)).toMatchObject({ done: true, output: expected });
  });

  it.each(['split', 'coalesce'] as const)('reassembles the same bytes when parts are framed as %s', async (payloadFraming) => {
    const body = { inputs: 'café naïve über 🙂 bytes', parameters: { max_new_tokens: 16, do_sample: true, seed: 11 }, stream: true };
    const reference = await collectParts((await invokeStream(body)).Body);
    server.setConfig({ payloadFraming });
    const framed = await collectParts((await invokeStream(body)).Body);
    expect(framed.text).toBe(reference.text);
    expect(framed.parts.length).toBe(payloadFraming === 'split' ? 32 : 8);
  });

  it('sends a non-streaming body back as a single PayloadPart', async () => {
    const { parts, text: raw } = await collectParts((await invokeStream(plainBody)).Body);
    expect(parts).toHaveLength(1);
    expect(JSON.parse(raw)).toMatchObject({ output: generationFor(plainBody).text });
  });

  it('throws ModelStreamError mid-iteration after streamCutAfter parts', async () => {
    server.setConfig({ streamCutAfter: 3 });
    const { parts, error } = await collectParts((await invokeStream({ ...tgiBody, stream: true })).Body);
    expect(parts).toHaveLength(3);
    expect(error).toBeInstanceOf(ModelStreamError);
    expect(error).toMatchObject({ ErrorCode: 'StreamBroken' });
    expect(server.stats().totals).toMatchObject({ streamsStarted: 1, streamsCut: 1, streamsCompleted: 0, tokensGenerated: 3 });
  });

  it('drops the connection mid-stream when the cut mode is close', async () => {
    server.setConfig({ streamCutAfter: 2, streamCutMode: 'close', perTokenMs: 20 });
    // A reset socket can also fail the call itself (Node drops buffered body data on abort).
    const { parts, error } = await invokeStream({ ...tgiBody, stream: true }).then(
      (out) => collectParts(out.Body),
      (e: unknown) => ({ parts: [], error: e }),
    );
    expect(parts.length).toBeLessThanOrEqual(2);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(ModelStreamError);
  });
});

describe('SageMaker errors', () => {
  it('wraps a container validation failure as ModelError with the original status and body', async () => {
    const error = await rejectionOf(invoke({ inputs: 42 }));
    expect(error).toBeInstanceOf(ModelError);
    const modelError = error as ModelError;
    expect(modelError.$metadata.httpStatusCode).toBe(424);
    expect(modelError.OriginalStatusCode).toBe(422);
    expect(JSON.parse(modelError.OriginalMessage ?? '')).toMatchObject({ error_type: 'validation' });
    expect(modelError.LogStreamArn).toBe('arn:aws:logs:us-east-1:000000000000:log-group:/aws/sagemaker/Endpoints/llm');
    expect(modelError.message).toMatch(/^Received client error \(422\) from primary with message/);
  });

  it('wraps malformed JSON as a ModelError with the container 400', async () => {
    const error = await rejectionOf(client.send(new InvokeEndpointCommand({ EndpointName: 'llm', Body: new TextEncoder().encode('{nope') })));
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).OriginalStatusCode).toBe(400);
  });

  it('fails exactly every second invocation with errorRate 0.5, as a container 500', async () => {
    server.setConfig({ errorRate: 0.5 });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await invoke(plainBody).then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );
    expect(outcomes).toEqual(['ok', 'ModelError', 'ok', 'ModelError']);
    const error = await rejectionOf(invoke(plainBody).then(() => invoke(plainBody)));
    expect((error as ModelError).OriginalStatusCode).toBe(500);
    expect(server.stats().faults.errorRate).toBe(3);
  });

  it.each([
    [400, ValidationError],
    [424, ModelError],
    [500, InternalFailure],
    [503, ServiceUnavailable],
    [530, InternalDependencyException],
  ] as const)('raises the typed exception for forced status %i', async (forcedStatus, ExceptionClass) => {
    server.setConfig({ forcedStatus });
    const error = await rejectionOf(invoke(plainBody));
    expect(error).toBeInstanceOf(ExceptionClass);
    expect((error as SageMakerRuntimeServiceException).$metadata.httpStatusCode).toBe(forcedStatus);
  });

  it('raises ThrottlingException (unmodelled, so the service base exception) for a forced 429', async () => {
    server.setConfig({ forcedStatus: 429 });
    const error = await rejectionOf(invokeStream({ ...tgiBody, stream: true }));
    expect(error).toBeInstanceOf(SageMakerRuntimeServiceException);
    expect(error).toMatchObject({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 429 } });
  });

  it('rejects an invalid endpoint name with ValidationError', async () => {
    const error = await rejectionOf(invoke(plainBody, 'not_valid'));
    expect(error).toBeInstanceOf(ValidationError);
  });

  it('answers a warming endpoint like a scaled-to-zero inference component, other endpoints unaffected', async () => {
    server.setConfig({ endpoints: { cold: { warmingForMs: 60_000 } } });
    const error = await rejectionOf(invoke(plainBody, 'cold'));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toBe(NO_CAPACITY_MESSAGE);
    await expect(invoke(plainBody, 'warm')).resolves.toBeDefined();
    server.setConfig({ endpoints: { cold: { warmingForMs: null } } });
    await expect(invoke(plainBody, 'cold')).resolves.toBeDefined();
    expect(server.stats().byEndpoint['cold']).toMatchObject({ invocations: 2, failed: 1, succeeded: 1 });
  });

  it('raises ModelNotReadyException with Retry-After in the model-not-ready warming style', async () => {
    server.setConfig({ warmingForMs: 5_000, warmingStyle: 'model-not-ready' });
    const error = await rejectionOf(invoke(plainBody));
    expect(error).toBeInstanceOf(ModelNotReadyException);
    const raw = await fetch(`${server.url}/endpoints/llm/invocations`, { method: 'POST', body: JSON.stringify(plainBody) });
    expect(raw.status).toBe(429);
    expect(Number(raw.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(raw.headers.get('x-amzn-errortype')).toMatch(/^ModelNotReadyException:/);
  });

  it('rejects a payload over the size limit with ValidationError', async () => {
    const small = await startModelServer({ maxBodyBytes: 256 });
    const smallClient = sageMakerClient(small.url);
    try {
      const error = await rejectionOf(smallClient.send(new InvokeEndpointCommand({ EndpointName: 'llm', Body: jsonBytes({ prompt: 'x'.repeat(1000) }) })));
      expect(error).toBeInstanceOf(ValidationError);
    } finally {
      smallClient.destroy();
      await small.close();
    }
  });
});
