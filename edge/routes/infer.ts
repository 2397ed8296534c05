/**
 * `POST /v1/infer`: validate → route → forward to the backend adapter → the public response.
 */
import { Hono } from 'hono';
import { InferRequestSchema, type InferResponse } from '../../shared/contracts/infer';
import type { AppEnv, Config } from '../env';
import { ApiError } from '../errors';
import { auth } from '../middleware/auth';
import { jsonBody, jsonGuard } from '../middleware/json-body';
import { invokeBackend } from '../services/backend-client';
import { resolveBackend } from '../services/route-table';
import type { Store } from '../services/store';

export interface InferDeps {
  readonly store: (config: Config) => Store;
  readonly now: () => number;
}

export function inferRoutes(deps: InferDeps) {
  const app = new Hono<AppEnv>();

  app.post('/infer', jsonGuard(), auth({ scope: 'infer', store: deps.store, now: deps.now }), jsonBody(InferRequestSchema), async (c) => {
    const started = deps.now();
    const request = c.req.valid('json');
    const config = c.get('config');
    const backend = resolveBackend(config.routes, request.model);
    if (!backend) throw new ApiError('NOT_FOUND', `model '${request.model}' is not served here`);

    const result = await invokeBackend(
      backend,
      {
        request_id: c.get('requestId'),
        tenant_id: c.get('auth').tenantId,
        model: request.model,
        prompt: request.prompt,
        params: request.params ?? {},
        stream: false,
      },
      { aws: config.aws, timeoutMs: config.backendTimeoutMs },
    );
    c.header('X-Backend', backend.name);
    const body: InferResponse = {
      id: `inf_${c.get('requestId')}`,
      model: request.model,
      output: result.output,
      usage: result.usage,
      latency_ms: deps.now() - started,
    };
    return c.json(body);
  });

  return app;
}
