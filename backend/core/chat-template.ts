/**
 * The one place chat messages become a prompt, for containers that take text (TGI `inputs`, plain
 * JSON, OpenAI legacy completions). OpenAI-chat containers get the messages as they are and apply the
 * model's own template. Chosen per model in config (`chatTemplate`), default `default`:
 *
 *   default  `<|system|>\n{content}\n<|user|>\n{content}\n` … then `<|assistant|>\n`
 *            (a Zephyr-style role-tag template; the reference model server renders chat the same way)
 *   chatml   `<|im_start|>{role}\n{content}<|im_end|>\n` … then `<|im_start|>assistant\n`
 *   llama3   `<|begin_of_text|>` then `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>` …
 *            then `<|start_header_id|>assistant<|end_header_id|>\n\n`
 *
 * Every template ends with the assistant's turn opened (a generation prompt).
 */
import type { ChatMessage } from '../../shared/contracts/backend';

/** The built-in chat templates. */
export const CHAT_TEMPLATES = ['default', 'chatml', 'llama3'] as const;
/** A chat template name. */
export type ChatTemplateName = (typeof CHAT_TEMPLATES)[number];

const RENDERERS: Readonly<Record<ChatTemplateName, (messages: readonly ChatMessage[]) => string>> = {
  default: (messages) => `${messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join('')}<|assistant|>\n`,
  chatml: (messages) => `${messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('')}<|im_start|>assistant\n`,
  llama3: (messages) =>
    '<|begin_of_text|>' +
    messages.map((m) => `<|start_header_id|>${m.role}<|end_header_id|>\n\n${m.content}<|eot_id|>`).join('') +
    '<|start_header_id|>assistant<|end_header_id|>\n\n',
};

/** Renders `messages` with `template`, ending with the assistant turn opened. */
export function renderChat(messages: readonly ChatMessage[], template: ChatTemplateName = 'default'): string {
  return RENDERERS[template](messages);
}
