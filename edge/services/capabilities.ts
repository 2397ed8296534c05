/**
 * The check of a request against its model's declared capabilities (route table): a request that
 * uses a feature the model lacks is refused with a 400 naming the parameter and the model, so a
 * feature is never dropped on the way to a container that would ignore it.
 */
import type { ModelCapabilities } from '../../shared/contracts/capabilities';
import { ApiError } from '../errors';
import type { NormalizedRequest } from './translate';

function refuse(parameter: string, capability: keyof ModelCapabilities, model: string): never {
  throw new ApiError('INVALID_INPUT', `${parameter}: model '${model}' does not support ${capability}`, {
    details: { issues: [{ path: parameter, message: `not supported by model '${model}'` }], model, capability },
  });
}

/** The path of the request's first tool call or tool result, if it has one. */
function toolTurn(req: NormalizedRequest): string | undefined {
  if (req.flavour === 'responses') {
    const r = req.responses;
    const i = r.input.findIndex((item) => ['function_call', 'function_call_output'].includes((item as { type?: unknown }).type as string));
    return i < 0 ? undefined : i < r.priorItems ? 'previous_response_id' : `input.${i - r.priorItems}`;
  }
  if (!('messages' in req.input)) return undefined;
  const i = req.input.messages.findIndex((m) => m.role === 'tool' || m.tool_calls);
  return i < 0 ? undefined : `messages.${i}`;
}

/** Throws ApiError (400) for the first feature of `req` that `capabilities` lacks. */
export function checkCapabilities(req: NormalizedRequest, capabilities: ModelCapabilities): void {
  const chat = req.chat;
  if (!chat) return;
  const { options } = chat;
  if (!capabilities.tools) {
    if (options.tools) refuse('tools', 'tools', req.model);
    const turn = toolTurn(req);
    if (turn) refuse(turn, 'tools', req.model);
  }
  if (options.response_format && !capabilities.json_schema) refuse(req.flavour === 'responses' ? 'text.format' : 'response_format', 'json_schema', req.model);
  if (options.logprobs && !capabilities.logprobs) refuse('logprobs', 'logprobs', req.model);
  if (chat.imageParts > 0 && !capabilities.vision && 'messages' in req.input) {
    const i = req.input.messages.findIndex((m) => m.parts?.some((p) => p.type === 'image_url'));
    refuse(`messages.${i}.content`, 'vision', req.model);
  }
}
