import { InvokeEndpointWithResponseStreamCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from './server';
import { jsonBytes, sageMakerClient } from './test-support';

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

const chat = (maxTokens: number, stream: boolean) => ({ model: 'm', messages: [{ role: 'user', content: 'pace me' }], max_tokens: maxTokens, stream });

/** Polls `check` until it passes or `timeoutMs` elapses (then throws its last failure). */
async function eventually(check: () => void, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('latency knobs', () => {
  it('waits at least ttftMs before a sync answer', async () => {
    server.setConfig({ ttftMs: 150 });
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(chat(1, false)) });
    await res.json();
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
  });

  it('takes ttft + perToken × (n − 1) for a sync answer', async () => {
    server.setConfig({ ttftMs: 20, perTokenMs: 30 });
    const started = performance.now();
    await (await fetch(`${server.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', prompt: 'x', max_tokens: 6 }) })).json();
    expect(performance.now() - started).toBeGreaterThanOrEqual(20 + 30 * 5 - 5);
  });

  it('streams the first token long before the last one is produced', async () => {
    // Causal, not a stopwatch on the client's reads (which a loaded machine delays): the first chunk
    // is in hand while the server has not finished the generation, and the whole stream takes the pacing.
    server.setConfig({ perTokenMs: 80 });
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(chat(6, true)) });
    const reader = res.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    expect(server.stats().byRoute['openai.chat']).toMatchObject({ streamsStarted: 1, streamsCompleted: 0 });
    while (!(await reader.read()).done);
    expect(performance.now() - started).toBeGreaterThanOrEqual(5 * 80 - 10);
    await eventually(() => expect(server.stats().byRoute['openai.chat']).toMatchObject({ streamsStarted: 1, streamsCompleted: 1 }));
  });

  it('paces SageMaker PayloadParts the same way', async () => {
    server.setConfig({ ttftMs: 50, perTokenMs: 60 });
    const started = performance.now();
    const out = await client.send(
      new InvokeEndpointWithResponseStreamCommand({ EndpointName: 'llm', Body: jsonBytes({ inputs: 'x', parameters: { max_new_tokens: 5 }, stream: true }) }),
    );
    const arrivals: number[] = [];
    let completedAtFirstPart: number | undefined;
    for await (const event of out.Body ?? []) {
      if (!event.PayloadPart) continue;
      arrivals.push(performance.now() - started);
      completedAtFirstPart ??= server.stats().totals.streamsCompleted;
    }
    expect(arrivals).toHaveLength(5);
    expect(arrivals[0]).toBeGreaterThanOrEqual(45);
    expect(completedAtFirstPart).toBe(0);
    expect(arrivals[4]).toBeGreaterThanOrEqual(50 + 4 * 60 - 10);
  });
});

describe('client aborts', () => {
  it('stops an SSE generation when the client disconnects and counts it as cancelled', async () => {
    server.setConfig({ perTokenMs: 40 });
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(chat(200, true)), signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    await eventually(() => expect(server.stats().byRoute['openai.chat']).toMatchObject({ streamsStarted: 1, cancelled: 1, streamsCompleted: 0 }));
    const produced = server.stats().totals.tokensGenerated;
    expect(produced).toBeLessThan(20);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(server.stats()).toMatchObject({ inFlight: 0, totals: { tokensGenerated: produced } });
  });

  it('cancels a sync generation still waiting for its first token', async () => {
    server.setConfig({ ttftMs: 5_000 });
    const controller = new AbortController();
    const pending = fetch(`${server.url}/generate`, { method: 'POST', body: JSON.stringify({ inputs: 'x' }), signal: controller.signal }).catch(() => null);
    await eventually(() => expect(server.stats().inFlight).toBe(1));
    controller.abort();
    await pending;
    await eventually(() => expect(server.stats()).toMatchObject({ inFlight: 0, totals: { cancelled: 1, succeeded: 0 } }));
  });

  it('counts an aborted SageMaker response stream as cancelled', async () => {
    server.setConfig({ perTokenMs: 40 });
    const controller = new AbortController();
    const out = await client.send(
      new InvokeEndpointWithResponseStreamCommand({ EndpointName: 'llm', Body: jsonBytes({ inputs: 'x', parameters: { max_new_tokens: 200 }, stream: true }) }),
      { abortSignal: controller.signal },
    );
    const iterator = out.Body![Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await iterator.next().catch(() => null);
    await eventually(() => expect(server.stats().byEndpoint['llm']).toMatchObject({ cancelled: 1, streamsCompleted: 0 }));
    expect(server.stats().totals.tokensGenerated).toBeLessThan(20);
  });

  it('closes promptly with a long stream in flight', async () => {
    const other = await startModelServer({ config: { perTokenMs: 1000 } });
    const res = await fetch(`${other.url}/generate_stream`, { method: 'POST', body: JSON.stringify({ inputs: 'x', parameters: { max_new_tokens: 100 } }) });
    const reading = res.text().catch(() => 'closed');
    const started = performance.now();
    await other.close();
    expect(performance.now() - started).toBeLessThan(1000);
    await reading;
  });
});
