/**
 * End to end through the real local stack: the edge's deploy bundle in workerd → SigV4 → local Lambda
 * host → SageMaker adapter → real @aws-sdk/client-sagemaker-runtime → reference model server, and
 * back. Every component runs on a free port; stopping the stack leaves nothing listening.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { InferResponseSchema } from '../../shared/contracts/infer';
import { isListening } from '../../tools/lib/net';
import { generate } from '../../tools/model-server/generator';
import { OPERATOR_TOKEN_PATTERN } from '../../shared/contracts/tenancy';
import { runCli } from '../../tools/cli/run';
import { LOCAL_ENDPOINT, startStack, type Stack } from '../../tools/stack/stack';

let stack: Stack;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gw-e2e-'));
  stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

const infer = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${stack.gatewayUrl}/v1/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('the local stack', () => {
  it('answers /health from workerd with the security headers', async () => {
    const res = await fetch(`${stack.gatewayUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves /v1/infer through edge → Lambda host → SageMaker adapter → model server', async () => {
    const before = stack.modelServer.stats();
    const prompt = 'Explain the speed of light in one sentence.';
    const res = await infer(
      { model: stack.model, prompt, params: { max_tokens: 12, temperature: 0 } },
      { 'x-request-id': 'e2e-request-1', 'cache-control': 'no-cache' },
    );
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    const parsed = InferResponseSchema.parse(body);
    const expected = generate({ prompt, maxTokens: 12, temperature: 0, topP: 1, seed: null, stop: [] });
    expect(parsed.output).toBe(expected.rawText);
    expect(parsed.usage.completion_tokens).toBe(12);
    expect(res.headers.get('x-request-id')).toBe('e2e-request-1');
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    expect(res.headers.get('x-backend')).toBe('sagemaker-local');
    const succeeded = (stats: ReturnType<typeof stack.modelServer.stats>) => stats.byEndpoint[LOCAL_ENDPOINT]?.succeeded ?? 0;
    expect(succeeded(stack.modelServer.stats()) - succeeded(before)).toBe(1);
  });

  it('refuses a missing key, an unknown model and malformed JSON with the error envelope', async () => {
    const noKey = await fetch(`${stack.gatewayUrl}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(noKey.status).toBe(401);
    expect(ErrorEnvelopeSchema.parse(await noKey.json()).error.code).toBe('UNAUTHORIZED');

    const unknown = await infer({ model: 'no-such-model', prompt: 'hi' });
    expect(unknown.status).toBe(404);
    expect(ErrorEnvelopeSchema.parse(await unknown.json()).error.code).toBe('NOT_FOUND');

    const malformed = await fetch(`${stack.gatewayUrl}/v1/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: '{"model": "x", "prompt": ',
    });
    expect(malformed.status).toBe(400);
    expect(ErrorEnvelopeSchema.parse(await malformed.json()).error.code).toBe('INVALID_INPUT');
  });

  it('maps a model failure to UPSTREAM_ERROR without leaking the container message', async () => {
    stack.modelServer.setConfig({ forcedStatus: 424 });
    try {
      const res = await infer({ model: stack.model, prompt: 'fail please' });
      const text = await res.text();
      expect(res.status).toBe(502);
      expect(ErrorEnvelopeSchema.parse(JSON.parse(text)).error.code).toBe('UPSTREAM_ERROR');
      expect(text).not.toMatch(/injected|stack|at .*\.ts/);
    } finally {
      stack.modelServer.reset();
    }
  });

  it('serves an OpenAPI 3.1 document generated from the schemas that validates', async () => {
    const res = await fetch(`${stack.gatewayUrl}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { additionalProperties?: unknown }>; securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/health',
        '/ready',
        '/v1/chat/completions',
        '/v1/completions',
        '/v1/embeddings',
        '/v1/infer',
        '/v1/infer/stream',
        '/v1/models',
        '/v1/responses',
        '/v1/responses/{id}',
        '/v1/jobs',
        '/v1/jobs/{id}',
        '/v1/admin/dlq',
        '/v1/admin/dlq/redrive',
        '/v1/usage',
        '/v1/admin/usage/export',
        '/v1/operator/dlq',
        '/v1/operator/dlq/redrive',
        '/webhooks/{source}',
      ].sort(),
    );
    expect(doc.components.schemas.InferRequest?.additionalProperties).toBe(false);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('writes stack.json with the gateway URL, the key and every component', async () => {
    const info = JSON.parse(await readFile(join(stateDir, 'stack.json'), 'utf8'));
    expect(info).toMatchObject({ gatewayUrl: stack.gatewayUrl, apiKey: stack.apiKey, tenantId: stack.tenantId });
    expect(Object.keys(info.components).sort()).toEqual(['bridge', 'edge', 'edges', 'lambdaHost', 'metricsSink', 'modelServer', 'redis']);
    expect(info.components.edges).toEqual([stack.gatewayUrl]);
    expect(info).toMatchObject({ edgeRuntime: 'workerd', scenario: { edgeLocations: 1, storeLatencyMs: 0 } });
  });

  it("configures the edge's operator credential, which the operator CLI reads from stack.json", async () => {
    const info = JSON.parse(await readFile(join(stateDir, 'stack.json'), 'utf8')) as { operatorToken: string };
    expect(info.operatorToken).toMatch(OPERATOR_TOKEN_PATTERN);
    const out: string[] = [];
    const code = await runCli(['--json', 'dlq', 'list'], { stdout: (t) => out.push(t), stderr: (t) => out.push(t), env: { STACK_STATE_DIR: stateDir } });
    expect(code, out.join('')).toBe(0);
    expect(JSON.parse(out.join(''))).toHaveProperty('deadLetters');
    // The dev tenant's key is no operator credential, at the edge or in the CLI.
    const asTenant = await fetch(`${stack.gatewayUrl}/v1/operator/dlq`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
    expect(asTenant.status).toBe(401);
    const refused = await runCli(['dlq', 'list'], { stdout: () => {}, stderr: () => {}, env: { STACK_STATE_DIR: stateDir, GW_OPERATOR_TOKEN: stack.apiKey } });
    expect(refused).toBe(2);
  });

  it('stops every component', async () => {
    const ports = [stack.gatewayUrl, stack.components.bridge, stack.components.modelServer, stack.components.lambdaHost.sagemaker].map((u) =>
      Number(new URL(u!).port),
    );
    await stack.stop();
    for (const port of ports) expect(await isListening(port), `port ${port}`).toBe(false);
  });
});
