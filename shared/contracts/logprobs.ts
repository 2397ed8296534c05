/**
 * Token log probabilities in OpenAI's chat shape (`choices[].logprobs.content[]`): each generated
 * token with its logprob, its UTF-8 bytes and the most likely alternatives at its position.
 */
import * as z from 'zod';

/** Most alternatives a request may ask for per token (`top_logprobs`). */
export const MAX_TOP_LOGPROBS = 20;

const Alternative = z.object({ token: z.string(), logprob: z.number(), bytes: z.array(z.number().int()).nullable() });

export const TokenLogprobSchema = Alternative.extend({ top_logprobs: z.array(Alternative).max(MAX_TOP_LOGPROBS) }).meta({ id: 'TokenLogprob' });

export type TokenLogprob = z.infer<typeof TokenLogprobSchema>;
