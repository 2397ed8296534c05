/**
 * Lambda entry of the ECS adapter (Function URL, AWS_IAM auth, RESPONSE_STREAM invoke mode): HTTP to
 * the OpenAI-compatible GPU service behind the internal ALB. Wiring only: config (fails the cold
 * start when wrong) and Powertools; the logic lives in core/ and adapters/ecs/. Settings:
 * backend/config/ecs.ts. Connections are pooled and kept alive by Node's global fetch dispatcher,
 * which lives as long as the execution environment.
 */
import { ecsBackend } from '../adapters/ecs/transport';
import { loadEcsConfig } from '../config/ecs';
import { createTracing } from '../core/tracing';
import { createStreamingHandler } from './lambda-stream';
import { createPowertools } from './powertools';

// Parsed and created once per execution environment (cold start); a bad setting fails the init.
const config = loadEcsConfig();
const SERVICE_NAME = 'ecs-adapter';
const powertools = createPowertools(SERVICE_NAME, config.observability);

/** The Function URL handler (RESPONSE_STREAM). */
export const handler = createStreamingHandler({
  backend: ecsBackend(config),
  powertools,
  logPayloads: config.observability.logPayloads,
  // One per execution environment: the span processor's buffer and the exporter's connections.
  tracing: createTracing(SERVICE_NAME, config.observability.traces),
});
