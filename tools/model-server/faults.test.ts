/**
 * The dead-container fault (`fault: "reset"`) through the admin API, with the real AWS SDK and
 * plain HTTP: every connection but the admin API's is dropped unanswered (no status, no SageMaker
 * error), a stream in flight is cut, nothing is invoked, and clearing it restores service.
 */
import { InvokeEndpointCommand, SageMakerRuntimeServiceException, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from './server';
import { jsonBytes, rejectionOf, sageMakerClient } from './test-support';

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

const body = { prompt: 'Tell me a story', max_tokens: 8, seed: 1 };
const put = (patch: unknown) => fetch(`${server.url}/admin/config`, { method: 'PUT', body: JSON.stringify(patch) });
const invoke = () => client.send(new InvokeEndpointCommand({ EndpointName: 'llm', ContentType: 'application/json', Body: jsonBytes(body) }));

describe('fault: "reset"', () => {
  it('drops every connection unanswered, SageMaker, OpenAI and health routes alike, and invokes nothing', async () => {
    const res = await put({ fault: 'reset' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { fault: unknown }).fault).toBe('reset');

    const sdk = await rejectionOf(invoke());
    // A network failure, not an answer: the SDK got no status and no SageMaker error shape.
    expect(sdk).toBeInstanceOf(Error);
    expect(sdk).not.toBeInstanceOf(SageMakerRuntimeServiceException);
    expect((sdk as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBeUndefined();
    for (const [path, init] of [
      ['/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) }],
      ['/ping', {}],
      ['/v1/models', {}],
    ] as const) {
      const failed = await fetch(`${server.url}${path}`, init).catch((err: unknown) => err);
      expect(failed, path).toBeInstanceOf(TypeError);
    }
    console.warn(`model server reset: the SDK failed with ${(sdk as Error).name}: ${(sdk as Error).message}`);
    expect(server.stats().totals.invocations).toBe(0);
    // The admin API still answers, so the fault can be read and cleared.
    expect(((await (await fetch(`${server.url}/admin/stats`)).json()) as { totals: { invocations: number } }).totals.invocations).toBe(0);
  });

  it('cuts a stream in flight when the container dies', async () => {
    await put({ perTokenMs: 100 });
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'a long story' }], max_tokens: 30, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    let error: unknown = null;
    setTimeout(() => void put({ fault: 'reset' }), 350);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += decoder.decode(value, { stream: true });
      }
    } catch (err) {
      error = err;
    }
    const chunks = received.split('\n\n').filter((e) => e.startsWith('data: {')).length;
    console.warn(`model server reset mid-stream: ${chunks} of 30 chunks, then ${(error as Error | null)?.message ?? 'a clean end'}`);
    expect(error).toBeInstanceOf(TypeError);
    expect(chunks).toBeGreaterThan(0);
    expect(chunks).toBeLessThan(30);
    expect(received).not.toContain('[DONE]');
  });

  it('serves again once cleared, and POST /admin/reset clears it too', async () => {
    await put({ fault: 'reset' });
    expect(await rejectionOf(invoke())).toBeInstanceOf(Error);
    const cleared = await put({ fault: null });
    expect(((await cleared.json()) as { fault: unknown }).fault).toBeNull();
    expect((await invoke()).$metadata.httpStatusCode).toBe(200);
    await put({ fault: 'reset' });
    await fetch(`${server.url}/admin/reset`, { method: 'POST' });
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });

  it('refuses a fault it does not know with 400 naming the field', async () => {
    const res = await put({ fault: 'unavailable' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^invalid model server config: fault:/);
    expect(server.config().fault).toBeNull();
  });
});
