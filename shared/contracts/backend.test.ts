import { describe, expect, it } from 'vitest';
import { SseParser } from '../sse';
import { BackendErrorSchema, encodeBackendStreamEvent, parseBackendStreamEvent, type BackendStreamEvent } from './backend';

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('backend stream events', () => {
  const events: BackendStreamEvent[] = [
    { event: 'token', data: { text: 'multi\nline ✓' } },
    { event: 'done', data: { usage: { prompt_tokens: 3, completion_tokens: 2 }, model_latency_ms: 12, finish_reason: 'stop' } },
    { event: 'error', data: { code: 'UPSTREAM_ERROR', message: 'broke', details: { reason: 'model_stream_error' } } },
  ];

  it('reads back every event as written, through the SSE parser', () => {
    const parser = new SseParser();
    const text = events.map((e) => decode(encodeBackendStreamEvent(e))).join('');
    const messages = [...parser.push(text), ...parser.end()];
    expect(messages.map(parseBackendStreamEvent)).toEqual(events);
  });

  it.each([
    ['an event name outside the contract', { event: 'message', data: '{"text":"x"}' }],
    ['an inherited property name', { event: 'toString', data: '{}' }],
    ['data that is not JSON', { event: 'token', data: '{"text":' }],
    ['data off its schema', { event: 'done', data: '{"usage":{"prompt_tokens":-1,"completion_tokens":0},"model_latency_ms":1}' }],
    ['an error with an unknown code', { event: 'error', data: '{"code":"TEAPOT","message":"x"}' }],
  ])('refuses %s', (_name, message) => {
    expect(parseBackendStreamEvent(message)).toBeUndefined();
  });
});

describe('BackendErrorSchema (the edge reading an adapter error)', () => {
  it('keeps a declared reason, Retry-After and upstream status', () => {
    const raw = { error: { code: 'UPSTREAM_ERROR', message: 'warming', details: { reason: 'no_capacity', retry_after: 30, upstream_status: 400 } } };
    expect(BackendErrorSchema.parse(raw)).toEqual(raw);
  });

  it('drops a reason it does not know (a newer adapter) but keeps the rest, so the status still decides', () => {
    const parsed = BackendErrorSchema.parse({ error: { code: 'UPSTREAM_ERROR', message: 'new', details: { reason: 'gpu_on_fire', retry_after: 5 } } });
    expect(parsed.error).toMatchObject({ code: 'UPSTREAM_ERROR', message: 'new', details: { retry_after: 5 } });
    expect(parsed.error.details?.reason).toBeUndefined();
  });

  it('refuses an answer that is not an adapter error', () => {
    expect(BackendErrorSchema.safeParse({ error: { code: 'UPSTREAM_ERROR' } }).success).toBe(false);
    expect(BackendErrorSchema.safeParse({ message: 'Forbidden' }).success).toBe(false);
  });
});
