/** The OpenAPI routes' validation hook: schema violations become INVALID_INPUT with field paths. */
import type { Hook } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { issuesOf } from '../middleware/json-body';

export const validationHook: Hook<unknown, AppEnv, string, unknown> = (result) => {
  if (!result.success) {
    throw new ApiError('INVALID_INPUT', 'request does not match the schema', { details: { issues: issuesOf(result.error) } });
  }
};
