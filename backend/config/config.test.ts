import { describe, expect, it } from 'vitest';
import { AdapterConfigError } from './env';
import { loadEcsConfig } from './ecs';
import { loadSagemakerConfig } from './sagemaker';

const sagemakerModels = JSON.stringify({ llama: { endpointName: 'llama-ep', format: 'tgi', targetVariant: 'blue' } });

describe('loadSagemakerConfig', () => {
  it('parses models, defaults and timeouts', () => {
    const config = loadSagemakerConfig({ SAGEMAKER_MODELS: sagemakerModels, SAGEMAKER_STREAM_IDLE_TIMEOUT_MS: '5000', LOG_PAYLOADS: '' });
    expect(config).toMatchObject({
      region: 'us-east-1',
      runtimeEndpoint: undefined,
      models: { llama: { endpointName: 'llama-ep', format: 'tgi', targetVariant: 'blue', chatTemplate: 'default' } },
      timeouts: { requestMs: 60_000, firstTokenMs: 60_000, idleMs: 5000 },
      observability: { logPayloads: false, metricsNamespace: 'InferenceGateway' },
    });
  });

  it('fails fast naming every bad setting', () => {
    const attempt = () =>
      loadSagemakerConfig({
        SAGEMAKER_MODELS: JSON.stringify({ llama: { endpointName: 'bad name!', format: 'gguf' } }),
        SAGEMAKER_REQUEST_TIMEOUT_MS: 'soon',
        LOG_PAYLOADS: 'yes',
      });
    expect(attempt).toThrow(AdapterConfigError);
    for (const name of ['SAGEMAKER_MODELS.llama.endpointName', 'SAGEMAKER_MODELS.llama.format', 'SAGEMAKER_REQUEST_TIMEOUT_MS', 'LOG_PAYLOADS']) {
      expect(attempt).toThrow(name);
    }
  });

  it('reads the trace collector settings (off by default) and names bad ones', () => {
    expect(loadSagemakerConfig({ SAGEMAKER_MODELS: sagemakerModels }).observability.traces).toEqual({
      endpoint: undefined,
      timeoutMs: 2000,
      sampleRatio: 1,
      environment: 'local',
    });
    const on = loadSagemakerConfig({
      SAGEMAKER_MODELS: sagemakerModels,
      ENVIRONMENT: 'prod',
      TRACES_ENDPOINT: 'https://otel.example/v1/traces',
      TRACES_TIMEOUT_MS: '750',
      TRACES_SAMPLE_RATIO: '0.1',
    });
    expect(on.observability.traces).toEqual({ endpoint: 'https://otel.example/v1/traces', timeoutMs: 750, sampleRatio: 0.1, environment: 'prod' });
    const bad = () => loadSagemakerConfig({ SAGEMAKER_MODELS: sagemakerModels, TRACES_ENDPOINT: 'otel:4318', TRACES_SAMPLE_RATIO: '2' });
    for (const name of ['TRACES_ENDPOINT', 'TRACES_SAMPLE_RATIO']) expect(bad).toThrow(name);
  });

  it('says so when the models setting is missing, not JSON, or empty', () => {
    expect(() => loadSagemakerConfig({})).toThrow(/SAGEMAKER_MODELS/);
    expect(() => loadSagemakerConfig({ SAGEMAKER_MODELS: '{oops' })).toThrow(/SAGEMAKER_MODELS: is not valid JSON/);
    expect(() => loadSagemakerConfig({ SAGEMAKER_MODELS: '{}' })).toThrow(/at least one model/);
  });

  it('refuses unknown per-model keys (typos) and invalid model names', () => {
    expect(() => loadSagemakerConfig({ SAGEMAKER_MODELS: JSON.stringify({ m: { endpointName: 'e', format: 'tgi', targetVarient: 'x' } }) })).toThrow(
      /targetVarient/,
    );
    expect(() => loadSagemakerConfig({ SAGEMAKER_MODELS: JSON.stringify({ 'bad model': { endpointName: 'e', format: 'tgi' } }) })).toThrow(AdapterConfigError);
  });
});

describe('loadEcsConfig', () => {
  it('resolves each model base URL and model id', () => {
    const config = loadEcsConfig({
      ECS_BASE_URL: 'http://alb.internal/v1',
      ECS_MODELS: JSON.stringify({ chat: { format: 'openai-chat' }, tgi: { format: 'tgi', baseUrl: 'http://tgi.internal', modelId: 'tgi-x' } }),
    });
    expect(config.models).toEqual({
      chat: { format: 'openai-chat', chatTemplate: 'default', baseUrl: 'http://alb.internal/v1', modelId: 'chat' },
      tgi: { format: 'tgi', chatTemplate: 'default', baseUrl: 'http://tgi.internal', modelId: 'tgi-x' },
    });
  });

  it('requires a base URL for every model, and refuses the json format', () => {
    expect(() => loadEcsConfig({ ECS_MODELS: JSON.stringify({ chat: { format: 'openai-chat' } }) })).toThrow(/ECS_BASE_URL: required for chat/);
    expect(() => loadEcsConfig({ ECS_BASE_URL: 'http://x/v1', ECS_MODELS: JSON.stringify({ j: { format: 'json' } }) })).toThrow(/ECS_MODELS\.j\.format/);
  });
});
