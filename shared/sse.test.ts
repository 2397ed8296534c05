import { describe, expect, it } from 'vitest';
import { SseParser, sseEvent } from './sse';

describe('sseEvent', () => {
  it('writes named events with JSON data and multi-line data as several data lines', () => {
    expect(sseEvent('token', { text: 'hi' })).toBe('event: token\ndata: {"text":"hi"}\n\n');
    expect(sseEvent(undefined, 'a\nb')).toBe('data: a\ndata: b\n\n');
  });
});

describe('SseParser', () => {
  const stream = `${sseEvent('token', { text: 'héllo 🌍' })}: comment\n${sseEvent(undefined, '[DONE]')}event: done\r\ndata: {"x":1}\r\n\r\n`;
  const expected = [
    { event: 'token', data: '{"text":"héllo 🌍"}' },
    { event: 'message', data: '[DONE]' },
    { event: 'done', data: '{"x":1}' },
  ];

  it('parses a whole stream', () => {
    const p = new SseParser();
    expect([...p.push(stream), ...p.end()]).toEqual(expected);
  });

  it('gives the same events whatever the chunk boundaries, including inside CRLF', () => {
    for (let size = 1; size <= 7; size++) {
      const p = new SseParser();
      const got = [];
      for (let i = 0; i < stream.length; i += size) got.push(...p.push(stream.slice(i, i + size)));
      got.push(...p.end());
      expect(got, `chunk size ${size}`).toEqual(expected);
    }
  });

  it('flushes a last event without its blank line at end of stream and ignores an empty one', () => {
    const p = new SseParser();
    expect(p.push('event: done\ndata: 1')).toEqual([]);
    expect(p.end()).toEqual([{ event: 'done', data: '1' }]);
    expect(new SseParser().push('event: x\n\n')).toEqual([]);
  });
});
