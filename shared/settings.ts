/**
 * Helpers for parsing deployment settings (Worker bindings, Lambda environment) with zod: JSON-valued
 * settings, and one message naming every bad setting. Runtime-agnostic.
 */
import * as z from 'zod';

/** A JSON-valued setting (a string), parsed before the schema it is piped into validates it. */
export const jsonString = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
});

/** `path: message` for each issue, e.g. `SAGEMAKER_MODELS.llama.format: Invalid option`. */
export function describeIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((i) => `${prefix}${i.path.join('.') || (prefix ? '' : '(root)')}: ${i.message}`.replace(/\.:/, ':'));
}
