import { describe, expect, it } from 'vitest';
import { countTokens, generate, renderChatPrompt, tokenize, type GenerationParams } from './generator';

const base: GenerationParams = { prompt: 'Explain the edge gateway.', maxTokens: 16, temperature: 1, topP: 1, seed: 42, stop: [] };

describe('generate', () => {
  it('returns the same output for the same input', () => {
    expect(generate(base)).toEqual(generate({ ...base }));
  });

  it('returns a different output for a different seed, prompt or temperature', () => {
    const text = generate(base).text;
    expect(generate({ ...base, seed: 43 }).text).not.toBe(text);
    expect(generate({ ...base, prompt: 'Explain the edge gateway!' }).text).not.toBe(text);
    expect(generate({ ...base, temperature: 0.5 }).text).not.toBe(text);
  });

  it('ignores the seed when greedy (temperature 0)', () => {
    expect(generate({ ...base, temperature: 0, seed: 1 }).text).toBe(generate({ ...base, temperature: 0, seed: 2 }).text);
  });

  it('generates exactly maxTokens tokens, a shorter run being a prefix of a longer one', () => {
    const long = generate({ ...base, maxTokens: 40 });
    const short = generate({ ...base, maxTokens: 10 });
    expect(long.completionTokens).toBe(40);
    expect(short.completionTokens).toBe(10);
    expect(long.text.startsWith(short.text)).toBe(true);
    expect(short.finishReason).toBe('length');
  });

  it('counts generated text with the same rule as prompts', () => {
    const out = generate({ ...base, maxTokens: 64 });
    expect(countTokens(out.text)).toBe(out.completionTokens);
    expect(out.tokens.map((t) => t.text).join('')).toBe(out.text);
  });

  it('ends the output before a stop sequence, even one spanning tokens', () => {
    const full = generate({ ...base, maxTokens: 30 });
    const spanning = (full.tokens[3]?.raw.slice(-2) ?? '') + (full.tokens[4]?.raw.slice(0, 3) ?? '');
    const out = generate({ ...base, maxTokens: 30, stop: ['no-such-stop', spanning] });
    const at = full.text.indexOf(spanning);
    expect(out.text).toBe(full.text.slice(0, at));
    expect(out.finishReason).toBe('stop');
    expect(out.stopSequence).toBe(spanning);
    expect(out.tokens.map((t) => t.text).join('')).toBe(out.text);
    expect(out.rawText.startsWith(out.text + spanning)).toBe(true);
    expect(out.completionTokens).toBe(out.tokens.length);
  });
});

describe('token counting', () => {
  it('counts runs of letters/digits and each other visible character', () => {
    expect(countTokens('Hello, world!')).toBe(4);
    expect(countTokens('  ')).toBe(0);
    expect(countTokens('café 42 🙂')).toBe(3);
    expect(tokenize('a-b')).toEqual(['a', '-', 'b']);
  });

  it('renders chat turns into a template before counting', () => {
    const prompt = renderChatPrompt([{ role: 'user', content: 'Hi there' }]);
    expect(prompt).toBe('<|user|>\nHi there\n<|assistant|>\n');
    expect(countTokens(prompt)).toBe(12);
  });
});
