import { describe, expect, it } from 'vitest';
import { FORMATS as SERVER_FORMATS, type FormatName as ServerFormatName } from '../../tools/model-server/formats';
import { generate, type Generation } from '../../tools/model-server/generator';
import { FORMATS, type ContainerFormat, type StreamPiece } from './formats';
import { ContainerStreamDecoder, LineSplitter } from './stream-decoder';

const encoder = new TextEncoder();

/** The server's formats a container format decodes (its Responses API is relayed as it is, not decoded). */
type FormatName = Exclude<ServerFormatName, 'openai-responses'>;

/** Our format name for each of the reference model server's. */
const OURS: Record<FormatName, ContainerFormat> = { tgi: 'tgi', 'openai-chat': 'openai-chat', 'openai-completions': 'openai-completions', plain: 'json' };

/** A body per server format asking for `maxTokens` with `seed`, sampled (so the seed matters). */
function bodyFor(format: FormatName, seed: number, maxTokens: number): unknown {
  const sampling = { temperature: 0.8, seed };
  switch (format) {
    case 'tgi':
      return { inputs: 'p', parameters: { max_new_tokens: maxTokens, do_sample: true, details: true, ...sampling }, stream: true };
    case 'openai-chat':
      return {
        model: 'm',
        messages: [{ role: 'user', content: 'p' }],
        max_tokens: maxTokens,
        stream: true,
        stream_options: { include_usage: true },
        ...sampling,
      };
    case 'openai-completions':
      return { model: 'm', prompt: 'p', max_tokens: maxTokens, stream: true, stream_options: { include_usage: true }, ...sampling };
    case 'plain':
      return { prompt: 'p', max_tokens: maxTokens, stream: true, ...sampling };
  }
}

/** A real container stream (as the reference model server writes it) whose text has multi-byte characters. */
function containerStream(format: FormatName): { bytes: Uint8Array; contentType: string; generation: Generation } {
  for (let seed = 0; seed < 500; seed += 1) {
    const parsed = SERVER_FORMATS[format].parse(bodyFor(format, seed, 8), { maxModelLen: 4096 });
    if (!parsed.ok) throw new Error(parsed.error.body);
    const generation = generate(parsed.request.params);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is "any non-ASCII character"
    if (!/[^\x00-\x7f]/.test(generation.text)) continue;
    const script = SERVER_FORMATS[format].stream(parsed.request, generation, { id: 'x', created: 0, model: 'm' });
    return { bytes: encoder.encode([...script.head, ...script.tokens, ...script.tail].join('')), contentType: script.contentType, generation };
  }
  throw new Error('no seed gives multi-byte output');
}

function decodeAll(format: ContainerFormat, contentType: string | undefined, frames: readonly Uint8Array[]): StreamPiece[] {
  const decoder = new ContainerStreamDecoder(FORMATS[format], contentType);
  return [...frames.flatMap((f) => decoder.push(f)), ...decoder.end()];
}

const textOf = (pieces: readonly StreamPiece[]) => pieces.map((p) => (p.kind === 'text' ? p.text : '')).join('');
const splitAt = (bytes: Uint8Array, ...at: number[]) => [0, ...at, bytes.length].slice(1).map((end, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1], end));

describe.each(Object.keys(OURS) as FormatName[])('decoding a %s stream', (format) => {
  const { bytes, contentType, generation } = containerStream(format);
  const ours = OURS[format];

  it('yields the generated text and a final piece when the stream arrives whole', () => {
    const pieces = decodeAll(ours, contentType, [bytes]);
    expect(textOf(pieces)).toBe(generation.text);
    expect(pieces.filter((p) => p.kind === 'error')).toEqual([]);
    expect(pieces.some((p) => p.kind === 'final' && p.finishReason === 'length')).toBe(true);
  });

  it('yields the same text when split in two at every byte boundary', () => {
    for (let at = 1; at < bytes.length; at += 1) {
      expect(textOf(decodeAll(ours, contentType, splitAt(bytes, at))), `split at ${at}`).toBe(generation.text);
    }
  });

  it('yields the same text from one-byte frames interleaved with empty frames', () => {
    const frames = [...bytes].flatMap((b) => [new Uint8Array(0), Uint8Array.of(b)]);
    expect(textOf(decodeAll(ours, contentType, frames))).toBe(generation.text);
  });
});

describe('multi-byte characters across frames', () => {
  it.each(['é', '🙂', '日'])('keeps %s intact whichever of its bytes a frame boundary falls after', (char) => {
    const line = encoder.encode(`${JSON.stringify({ text: `a${char}b` })}\n${JSON.stringify({ done: true })}\n`);
    const start = line.indexOf(0x61) + 1; // after "a": the character's first byte
    const size = encoder.encode(char).length;
    for (let cut = start; cut <= start + size; cut += 1) {
      const pieces = decodeAll('json', 'application/jsonlines', splitAt(line, cut));
      expect(textOf(pieces), `cut at ${cut}`).toBe(`a${char}b`);
      expect(textOf(pieces)).not.toContain('\uFFFD');
    }
  });
});

describe('framing', () => {
  it('splits JSON lines across frames and tolerates CRLF, blank lines and a missing final newline', () => {
    const text = '{"text":"one"}\r\n\r\n{"text":" two"}\n{"done":true,"usage":{"prompt_tokens":2,"completion_tokens":3}}';
    const bytes = encoder.encode(text);
    const pieces = decodeAll('json', 'application/jsonlines', splitAt(bytes, 5, 17, 18, 40));
    expect(pieces).toEqual([
      { kind: 'text', text: 'one' },
      { kind: 'text', text: ' two' },
      { kind: 'final', finishReason: undefined, promptTokens: 2, completionTokens: 3 },
    ]);
  });

  it('reads OpenAI chunks sent as JSON lines without `data:` (as LMI may) or with it (without SSE content type)', () => {
    const chunk = (content: string) => JSON.stringify({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });
    for (const prefix of ['', 'data: ']) {
      const body = `${prefix}${chunk('Hi')}\n${prefix}${chunk(' there')}\n${prefix}[DONE]\n`;
      const pieces = decodeAll('openai-chat', 'application/jsonlines', [encoder.encode(body)]);
      expect(textOf(pieces)).toBe('Hi there');
      expect(pieces.at(-1)).toEqual({ kind: 'final' });
    }
  });

  it('parses SSE with CRLF line endings split between CR and LF', () => {
    const body = encoder.encode(
      'data: {"token":{"text":"x"}}\r\n\r\ndata: {"token":{"text":"y"},"generated_text":"xy","details":{"finish_reason":"length","generated_tokens":2}}\r\n\r\n',
    );
    const cr = body.indexOf(0x0d);
    const pieces = decodeAll('tgi', 'text/event-stream', splitAt(body, cr + 1));
    expect(textOf(pieces)).toBe('xy');
    expect(pieces.at(-1)).toEqual({ kind: 'final', completionTokens: 2, finishReason: 'length' });
  });

  it('turns a malformed event and an SSE `error` event into error pieces', () => {
    expect(decodeAll('tgi', 'text/event-stream', [encoder.encode('data: {not json\n\n')])).toEqual([
      { kind: 'error', message: 'the model container sent a malformed stream event' },
    ]);
    expect(decodeAll('openai-chat', 'text/event-stream', [encoder.encode('event: error\ndata: {"message":"boom"}\n\n')])).toEqual([
      { kind: 'error', message: '{"message":"boom"}' },
    ]);
  });

  it('turns in-band container errors into error pieces in every format', () => {
    expect(decodeAll('tgi', 'text/event-stream', [encoder.encode('data:{"error":"overloaded","error_type":"generation"}\n\n')])).toEqual([
      { kind: 'error', message: 'overloaded' },
    ]);
    expect(decodeAll('openai-completions', 'text/event-stream', [encoder.encode('data: {"error":{"message":"bad","code":500}}\n\n')])).toEqual([
      { kind: 'error', message: 'bad' },
    ]);
    expect(decodeAll('json', undefined, [encoder.encode('{"error":"x"}\n')])).toEqual([{ kind: 'error', message: 'x' }]);
  });
});

describe('LineSplitter', () => {
  it('holds a partial line until its newline arrives', () => {
    const s = new LineSplitter();
    expect(s.push('ab')).toEqual([]);
    expect(s.push('c\nde')).toEqual(['abc']);
    expect(s.push('\r\n')).toEqual(['de']);
    expect(s.end()).toEqual([]);
  });
});
