/**
 * The SageMaker error table on SDK exception objects as the SDK builds them. (The integration tests
 * in handlers/sagemaker.test.ts prove the same mapping on real SDK exceptions from the wire.)
 */
import { InternalStreamFailure, ModelError, ModelStreamError, ValidationError, type ResponseStream } from '@aws-sdk/client-sagemaker-runtime';
import { describe, expect, it } from 'vitest';
import { mapSagemakerError } from './errors';
import { payloadBytes, sagemakerTransport, type SagemakerSender } from './transport';

const meta = { $metadata: { httpStatusCode: 424 } };
const modelError = (status: number, body: string) =>
  new ModelError({ message: 'Received client error', OriginalStatusCode: status, OriginalMessage: body, ...meta });

describe('mapSagemakerError', () => {
  it.each([
    [429, 429, 'RATE_LIMITED', 'model_overloaded'],
    [503, 503, 'UPSTREAM_ERROR', 'model_not_ready'],
    [408, 504, 'TIMEOUT', 'model_timeout'],
    [400, 400, 'INVALID_INPUT', 'model_rejected_input'],
    [413, 413, 'INVALID_INPUT', 'model_rejected_input'],
    [500, 502, 'UPSTREAM_ERROR', 'model_error'],
  ])('maps a ModelError wrapping a container %i', (original, status, code, reason) => {
    const err = mapSagemakerError(modelError(original, '{"error":"bad things"}'), 'ep');
    expect({ status: err.status, code: err.code, reason: err.reason, upstream: err.upstreamStatus }).toEqual({ status, code, reason, upstream: original });
  });

  it('shows the container reason for a rejected input but never for a container failure', () => {
    expect(mapSagemakerError(modelError(422, '{"error":"`inputs` must have less than 4096 tokens"}'), 'ep').message).toContain('less than 4096 tokens');
    expect(mapSagemakerError(modelError(500, '{"error":"Traceback at /opt/app/server.py:12"}'), 'ep').message).not.toContain('Traceback');
  });

  it('maps a ModelStreamError by its error code', () => {
    expect(mapSagemakerError(new ModelStreamError({ message: 'x', ErrorCode: 'StreamBroken', $metadata: {} }), 'ep')).toMatchObject({
      status: 502,
      reason: 'model_stream_error',
    });
    expect(mapSagemakerError(new ModelStreamError({ message: 'x', ErrorCode: 'ModelInvocationTimeExceeded', $metadata: {} }), 'ep')).toMatchObject({
      status: 504,
      code: 'TIMEOUT',
    });
    expect(mapSagemakerError(new InternalStreamFailure({ message: 'x', $metadata: {} }), 'ep')).toMatchObject({
      status: 502,
      reason: 'internal_stream_failure',
    });
  });

  it('tells a missing endpoint (misconfiguration) from an invalid request', () => {
    expect(
      mapSagemakerError(new ValidationError({ message: 'Endpoint ep of account 123456789012 not found.', $metadata: { httpStatusCode: 400 } }), 'ep'),
    ).toMatchObject({
      status: 502,
      reason: 'endpoint_not_found',
    });
    expect(mapSagemakerError(new ValidationError({ message: 'Body too large', $metadata: { httpStatusCode: 400 } }), 'ep')).toMatchObject({
      status: 400,
      reason: 'validation',
    });
  });

  it('tells a connection failure before the answer from one mid-stream', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(mapSagemakerError(reset, 'ep', 'request')).toMatchObject({ status: 503, reason: 'unreachable', retryAfterSeconds: 1 });
    expect(mapSagemakerError(reset, 'ep', 'stream')).toMatchObject({ status: 502, reason: 'model_stream_error' });
  });

  it('maps a connection dropped while the SDK reads a 200 answer to a broken stream, not a failure "with HTTP 200"', () => {
    // What the SDK throws when the container resets the connection right after its 200 headers.
    const cut = Object.assign(new Error('aborted'), { code: 'ECONNRESET', $metadata: { httpStatusCode: 200 } });
    expect(mapSagemakerError(cut, 'ep', 'request')).toMatchObject({ status: 502, reason: 'model_stream_error' });
    expect(mapSagemakerError(cut, 'ep', 'request').message).not.toMatch(/HTTP 200/);
  });
});

describe('SageMaker transport', () => {
  it('targets the configured variant and inference component', async () => {
    const sent: Array<Record<string, unknown>> = [];
    const transport = sagemakerTransport({
      send: async (command: { input: Record<string, unknown> }) => {
        sent.push(command.input);
        return { Body: new TextEncoder().encode('{}'), ContentType: 'application/json', $metadata: {} };
      },
    } as unknown as SagemakerSender);
    const model = { endpointName: 'ep', format: 'tgi', chatTemplate: 'default', targetVariant: 'blue', inferenceComponent: 'ic-llama' } as const;
    await transport.invoke(model, new Uint8Array([123, 125]), new AbortController().signal);
    expect(sent[0]).toMatchObject({
      EndpointName: 'ep',
      TargetVariant: 'blue',
      InferenceComponentName: 'ic-llama',
      ContentType: 'application/json',
      Accept: 'application/json',
    });
  });

  it('hands on PayloadPart bytes, skips empty parts, and throws exception events', async () => {
    async function* events(): AsyncGenerator<ResponseStream> {
      yield { PayloadPart: { Bytes: Uint8Array.of(1) } };
      yield { PayloadPart: { Bytes: new Uint8Array(0) } };
      yield { PayloadPart: {} };
      yield { PayloadPart: { Bytes: Uint8Array.of(2, 3) } };
      yield { ModelStreamError: new ModelStreamError({ message: 'cut', ErrorCode: 'StreamBroken', $metadata: {} }) };
    }
    const got: number[][] = [];
    await expect(
      (async () => {
        for await (const chunk of payloadBytes(events())) got.push([...chunk]);
      })(),
    ).rejects.toBeInstanceOf(ModelStreamError);
    expect(got).toEqual([[1], [2, 3]]);
  });
});
