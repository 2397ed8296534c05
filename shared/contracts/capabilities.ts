/**
 * What a model can do beyond plain text, declared per model in the route table and shown by
 * `GET /v1/models`. A request that uses a capability its model lacks is refused with a 400 naming
 * the parameter and the model, never passed on with the feature silently dropped.
 */
import * as z from 'zod';

export const ModelCapabilitiesSchema = z
  .object({
    /** Function tools, tool choice and tool messages. */
    tools: z.boolean().default(false),
    /** `response_format` `json_object` and `json_schema`. */
    json_schema: z.boolean().default(false),
    /** Token logprobs (`logprobs`, `top_logprobs`). */
    logprobs: z.boolean().default(false),
    /** Image content parts. */
    vision: z.boolean().default(false),
    /** Most choices one request may ask for (`n`); the plan may cap it lower. */
    max_n: z.number().int().min(1).max(16).default(1),
  })
  .strict()
  .meta({ id: 'ModelCapabilities' });

export type ModelCapabilities = z.infer<typeof ModelCapabilitiesSchema>;

/** A model's capabilities when its route declares none: plain text, one choice. */
export const NO_CAPABILITIES: ModelCapabilities = ModelCapabilitiesSchema.parse({});
