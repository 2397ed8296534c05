import { describe, expect, it } from 'vitest';
import { isEventStream } from './boundary';

describe('isEventStream', () => {
  it.each([
    ['text/event-stream', true],
    ['text/event-stream; charset=utf-8', true],
    ['Text/Event-Stream ;charset=UTF-8', true],
    ['application/json', false],
    ['text/event-streamx', false],
    [null, false],
    [undefined, false],
  ])('%s → %s', (type, expected) => {
    expect(isEventStream(type)).toBe(expected);
  });
});
