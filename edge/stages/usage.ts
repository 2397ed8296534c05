/**
 * The usage ledger's half of the inference chain: the request's usage facts (services/usage/facts.ts)
 * follow its settlement, so the recorder writes what the limits settled, from the same fact. A
 * backend answer: its reported usage, spent by a backend. A cache hit or a coalesced follower: the
 * stored answer's tokens for the client, 0 for the backend. A cut stream (its backend failed, or the
 * client left): the tokens that had passed when it ended and the prompt's estimate (the backend
 * reports no usage for a stream it did not finish). A failure, a replay, a follower that left: 0.
 */
import type { UsageFacts } from '../services/usage/facts';
import { promptTokenEstimate } from '../services/limits/gate';
import type { InferenceState, Settlement } from './state';

/** Binds `facts` to the request's stages; `now` is the app's clock. */
export function bindUsage(facts: UsageFacts, state: InferenceState, now: () => number): void {
  facts.model = state.req.model;
  facts.stream = state.req.stream;
  facts.n = 1;
  facts.cache = state.cache.key !== undefined && state.cache.policy.lookup ? 'MISS' : 'BYPASS';
  let passed = 0;
  state.onToken(() => {
    facts.firstTokenAt ??= now();
    passed++;
  });
  facts.settled = new Promise((resolve) => {
    state.onSettled((settlement: Settlement) => {
      facts.endedAt = now();
      if (settlement.kind === 'answered') {
        const { usage } = settlement.entry;
        facts.promptTokens = usage.prompt_tokens;
        facts.completionTokens = usage.completion_tokens;
        if (settlement.source === 'backend') {
          facts.backendPromptTokens = usage.prompt_tokens;
          facts.backendCompletionTokens = usage.completion_tokens;
        } else facts.cache = settlement.source;
        if (!state.req.stream || settlement.source !== 'backend') facts.firstTokenAt ??= facts.endedAt;
      } else if (settlement.kind === 'cut') {
        facts.incomplete = state.abort.signal.aborted ? 'client' : 'upstream';
        const prompt = promptTokenEstimate(state.call.payload, state.upstream.config.images.reserveTokens);
        facts.promptTokens = prompt;
        facts.completionTokens = passed;
        facts.backendPromptTokens = prompt;
        facts.backendCompletionTokens = passed;
      } else if (settlement.kind === 'left') {
        facts.incomplete = 'client';
        facts.cache = 'COALESCED';
      }
      resolve();
    });
  });
}
