/** The embedding container formats as pure functions: request bodies, answers in and out of shape, the token count. */
import { describe, expect, it } from 'vitest';
import { computeTokens, EMBEDDING_CODECS, isEmbeddingFormat } from './embeddings';

describe('embedding formats', () => {
  it('builds the TEI and OpenAI request bodies', () => {
    expect(EMBEDDING_CODECS['tei-embed'].request(['a', 'b'], {}, undefined)).toEqual({ inputs: ['a', 'b'], normalize: true, truncate: false });
    expect(EMBEDDING_CODECS['openai-embeddings'].request([[1, 2]], { modelId: 'e5' }, 64)).toEqual({
      model: 'e5',
      input: [[1, 2]],
      encoding_format: 'float',
      dimensions: 64,
    });
  });

  it('reads TEI vectors with the token count from the attributes, and OpenAI data in index order', () => {
    expect(EMBEDDING_CODECS['tei-embed'].response([[0.1], [0.2]], 'x-compute-tokens=7')).toEqual({ vectors: [[0.1], [0.2]], promptTokens: 7 });
    expect(EMBEDDING_CODECS['tei-embed'].response([[0.1]])).toEqual({ vectors: [[0.1]], promptTokens: undefined });
    const list = {
      data: [
        { index: 1, embedding: [2] },
        { index: 0, embedding: [1] },
      ],
      usage: { prompt_tokens: 3, total_tokens: 3 },
    };
    expect(EMBEDDING_CODECS['openai-embeddings'].response(list)).toEqual({ vectors: [[1], [2]], promptTokens: 3 });
  });

  it('refuses answers off shape', () => {
    expect(EMBEDDING_CODECS['tei-embed'].response({ embeddings: [] })).toBeUndefined();
    expect(EMBEDDING_CODECS['openai-embeddings'].response([[1]])).toBeUndefined();
  });

  it('finds x-compute-tokens among other attributes only as a whole key', () => {
    expect(computeTokens('trace=1; x-compute-tokens=42')).toBe(42);
    expect(computeTokens('not-x-compute-tokens=5')).toBeUndefined();
    expect(computeTokens(undefined)).toBeUndefined();
    expect(isEmbeddingFormat('tei-embed')).toBe(true);
    expect(isEmbeddingFormat('tgi')).toBe(false);
  });
});
