import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { describeIssues, jsonString } from './settings';

describe('jsonString', () => {
  it('parses JSON before the piped schema validates it, and names invalid JSON', () => {
    const schema = z.object({ routes: jsonString.pipe(z.object({ a: z.number() })) });
    expect(schema.parse({ routes: '{"a":1}' })).toEqual({ routes: { a: 1 } });
    const bad = schema.safeParse({ routes: '{oops' });
    expect(bad.success).toBe(false);
    expect(describeIssues(bad.error!)).toEqual(['routes: is not valid JSON']);
  });
});

describe('describeIssues', () => {
  it('names each bad setting by path, with an optional prefix and (root) for the whole value', () => {
    const result = z.object({ a: z.object({ b: z.string() }), c: z.number() }).safeParse({ a: { b: 1 }, c: 'x' });
    expect(describeIssues(result.error!)).toEqual([expect.stringMatching(/^a\.b: /), expect.stringMatching(/^c: /)]);
    expect(describeIssues(result.error!, 'WEBHOOK_SOURCES.')[0]).toMatch(/^WEBHOOK_SOURCES\.a\.b: /);
    expect(describeIssues(z.string().safeParse(1).error!)[0]).toMatch(/^\(root\): /);
    expect(describeIssues(z.string().safeParse(1).error!, 'WEBHOOK_SOURCES.')[0]).toMatch(/^WEBHOOK_SOURCES: /);
  });
});
