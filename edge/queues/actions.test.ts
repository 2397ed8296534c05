/**
 * A source's actions: the schema accepts the three actions with exact, prefix and `*` patterns and
 * refuses bad ones naming the field; the matcher picks the most specific pattern (exact, then the
 * longest prefix, then `*`) and nothing when none matches.
 */
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../shared/settings';
import { matchAction, SourceActionsSchema } from './actions';

const job = { action: 'job', template: { model: 'demo-model', prompt: 'Summarize: {{payload.text}}' } };

const actions = SourceActionsSchema.parse({
  'invoice.paid': { action: 'eventbridge', bus: 'billing-bus' },
  'invoice.*': { action: 'eventbridge' },
  'invoice.payment.*': { action: 'forward', url: 'https://abc.lambda-url.us-east-1.on.aws/' },
  'demo.*': job,
  '*': { action: 'forward' },
});

const chosen = (type: string) => {
  const m = matchAction(actions, type);
  return m && `${m.pattern} → ${m.action.action}`;
};

describe('matchAction', () => {
  it('prefers an exact type over any prefix', () => {
    expect(chosen('invoice.paid')).toBe('invoice.paid → eventbridge');
    expect(matchAction(actions, 'invoice.paid')?.action).toEqual({ action: 'eventbridge', bus: 'billing-bus' });
  });

  it('prefers the longest matching prefix, whatever the order of the config', () => {
    expect(chosen('invoice.payment.failed')).toBe('invoice.payment.* → forward');
    expect(chosen('invoice.voided')).toBe('invoice.* → eventbridge');
    const reordered = SourceActionsSchema.parse({ 'a.*': { action: 'forward' }, 'a.b.*': { action: 'eventbridge' }, 'a.b.c.*': job });
    expect(matchAction(reordered, 'a.b.c.d')?.pattern).toBe('a.b.c.*');
    expect(matchAction(reordered, 'a.b.x')?.pattern).toBe('a.b.*');
  });

  it('falls back to * and to nothing without it', () => {
    expect(chosen('customer.created')).toBe('* → forward');
    // The prefix `invoice.` does not match the bare word.
    expect(chosen('invoice')).toBe('* → forward');
    const narrow = SourceActionsSchema.parse({ 'demo.*': job });
    expect(matchAction(narrow, 'other.thing')).toBeUndefined();
    expect(matchAction(narrow, 'demo.summarize')?.action.action).toBe('job');
  });

  it('compiles a job action’s template once, at parse time', () => {
    const m = matchAction(actions, 'demo.summarize');
    expect(m?.action.action === 'job' && m.action.template.prompt?.segments.length).toBe(2);
  });
});

describe('SourceActionsSchema', () => {
  const issues = (raw: unknown) => {
    const result = SourceActionsSchema.safeParse(raw);
    return result.success ? [] : describeIssues(result.error, 'actions.');
  };

  it('refuses patterns with an inner or a lone double star, or spaces', () => {
    for (const pattern of ['in*voice', 'invoice.**', '**', 'invoice paid', '']) {
      expect(issues({ [pattern]: { action: 'forward' } }), pattern).toEqual([
        `actions.${pattern}: '${pattern}' is not an event type pattern: use "*", an exact type like "invoice.paid", or a prefix like "invoice.*"`.replace(
          '.:',
          ':',
        ),
      ]);
    }
  });

  it('refuses unknown actions and fields, bad buses and URLs, and bad templates, naming the field', () => {
    expect(issues({ '*': { action: 'email' } })[0]).toMatch(/^actions\.\*\.action: /);
    expect(issues({ '*': { action: 'forward', url: 'not a url' } })[0]).toMatch(/^actions\.\*\.url: /);
    expect(issues({ '*': { action: 'eventbridge', bus: 'has spaces' } })).toEqual(['actions.*.bus: not an event bus name or ARN']);
    expect(issues({ '*': { action: 'eventbridge', topic: 'x' } })[0]).toContain('topic');
    expect(issues({ 'demo.*': { action: 'job', template: { model: 'm', prompt: '{{nope}}' } } })[0]).toMatch(
      /^actions\.demo\.\*\.template\.prompt: placeholder/,
    );
    expect(issues({})).toEqual(['actions: give at least one event type pattern']);
    expect(issues(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, { action: 'forward' }])))).toEqual([
      'actions: at most 64 event type patterns',
    ]);
  });

  it('accepts a bus ARN', () => {
    expect(issues({ '*': { action: 'eventbridge', bus: 'arn:aws:events:us-east-1:123456789012:event-bus/inference-gateway-prod-events' } })).toEqual([]);
  });
});
