import { describe, expect, it } from 'vitest';
import {
  MAX_CUSTOM_ATTRIBUTES,
  formatCustomAttributes,
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseCustomAttributes,
  parseTraceparent,
  parseTracestate,
  traceHeaders,
} from './trace';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it('reads the spec example, sampled', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
  });

  it('reads an unsampled context and keeps a valid tracestate', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`, 'congo=t61rcWkgMzE, rojo=00f067aa0ba902b7')).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: false,
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
    });
  });

  it('reads the sampled bit among other flags', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-03`)?.sampled).toBe(true);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-02`)?.sampled).toBe(false);
  });

  it('accepts a future version with extra fields, ignoring them', () => {
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01-what-the-future-holds`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['version 00 with extra fields', `00-${TRACE}-${SPAN}-01-extra`],
    ['missing flags', `00-${TRACE}-${SPAN}`],
    ['garbage', 'not a traceparent'],
  ])('rejects %s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('drops an invalid tracestate but keeps the traceparent', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'Bad Key=1')).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
  });
});

describe('parseTracestate', () => {
  it('accepts multi-tenant keys and drops empty members', () => {
    expect(parseTracestate('a@b=1,,c=2 ')).toBe('a@b=1,c=2');
  });

  it.each([
    ['a value with =', 'a=b=c'],
    ['duplicate keys', 'a=1,a=2'],
    ['an uppercase key', 'A=1'],
    ['over 512 characters', `a=${'x'.repeat(511)}`],
    ['over 32 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
  ])('rejects %s', (_name, header) => {
    expect(parseTracestate(header)).toBeUndefined();
  });
});

describe('formatTraceparent', () => {
  it('round-trips through parseTraceparent', () => {
    const ctx = { traceId: newTraceId(), spanId: newSpanId(), sampled: false };
    expect(formatTraceparent(ctx)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(parseTraceparent(formatTraceparent(ctx))).toEqual(ctx);
  });

  it('builds the headers for the next hop, tracestate only when there is one', () => {
    expect(traceHeaders({ traceId: TRACE, spanId: SPAN, sampled: true })).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01` });
    expect(traceHeaders({ traceId: TRACE, spanId: SPAN, sampled: true, tracestate: 'a=1' })).toEqual({
      traceparent: `00-${TRACE}-${SPAN}-01`,
      tracestate: 'a=1',
    });
  });
});

describe('CustomAttributes', () => {
  it('carries traceparent, tracestate and the request id, and reads them back', () => {
    const attrs = { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'a=x;y,b=2', requestId: 'req-1.2:3=4' };
    const value = formatCustomAttributes(attrs);
    expect(value).toBe(`traceparent=00-${TRACE}-${SPAN}-01;tracestate=a%3Dx%3By%2Cb%3D2;request_id=req-1.2:3=4`);
    expect(parseCustomAttributes(value)).toEqual(attrs);
  });

  it('leaves the tracestate out before passing 1024 characters', () => {
    const value = formatCustomAttributes({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: `a=${'x'.repeat(1100)}`, requestId: 'r1' });
    expect(value).toBe(`traceparent=00-${TRACE}-${SPAN}-01;request_id=r1`);
    expect(value!.length).toBeLessThanOrEqual(MAX_CUSTOM_ATTRIBUTES);
  });

  it('is undefined with nothing to carry, and ignores unknown or malformed members', () => {
    expect(formatCustomAttributes({})).toBeUndefined();
    expect(parseCustomAttributes('foo=bar;tracestate=%E0%A4%A;=x;request_id=r2')).toEqual({ requestId: 'r2' });
  });
});
