/**
 * Usage as the gateway reports it: the container's counts when it gives them, else the one shared
 * estimate (`estimateTokens`, shared/tokens.ts) over the prompt the model saw and the output.
 */
import type { BackendInferRequest } from '../../shared/contracts/backend';
import type { Usage } from '../../shared/contracts/infer';
import { estimateTokens } from '../../shared/tokens';
import { promptText, type ContainerModel } from './formats';

/** Counts a container reported (either may be missing). */
export interface ReportedCounts {
  readonly promptTokens?: number | undefined;
  readonly completionTokens?: number | undefined;
}

/** Final usage for `req` answered with `output`. */
export function usageFor(req: BackendInferRequest, model: ContainerModel, output: string, reported: ReportedCounts): Usage {
  return {
    prompt_tokens: reported.promptTokens ?? estimateTokens(promptText(req, model.chatTemplate)),
    completion_tokens: reported.completionTokens ?? estimateTokens(output),
  };
}
