/**
 * Job templates: placeholders resolve paths of the event, values are written by context (as text in
 * prose, JSON-escaped inside a JSON string, as a JSON value inside JSON), and rendering fails with a
 * clear reason for a missing path, an empty result or a result over the cap; bad templates are
 * refused when the settings are parsed, naming the field.
 */
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../shared/settings';
import { JobTemplateSchema, renderJobTemplate, type RenderResult } from './template';

const event = {
  id: 'evt_1',
  type: 'demo.summarize',
  payload: {
    text: 'Line one.\nHe said "hi" \\ bye',
    count: 3,
    flag: true,
    nothing: null,
    customer: { name: 'Ada', tags: ['vip', 'eu'] },
  },
};

const template = (raw: Record<string, unknown>) => JobTemplateSchema.parse({ model: 'demo-model', ...raw });
const render = (raw: Record<string, unknown>, e: typeof event = event) => renderJobTemplate(template(raw), e);
const prompt = (r: RenderResult) => (r.ok && 'prompt' in r.job.request ? r.job.request.prompt : r);

describe('renderJobTemplate', () => {
  it('inserts values as text in a plain prompt: strings as they are, other values as compact JSON', () => {
    const r = render({
      prompt: 'Summarize ({{type}}, {{ id }}): {{payload.text}} / {{payload.count}} {{payload.flag}} {{payload.nothing}} {{payload.customer.tags}}',
    });
    expect(prompt(r)).toBe('Summarize (demo.summarize, evt_1): Line one.\nHe said "hi" \\ bye / 3 true null ["vip","eu"]');
  });

  it('JSON-escapes a value inside a JSON string of the template, so the rendered JSON parses', () => {
    const r = render({ prompt: 'Classify this record: {"text": "{{payload.text}}", "who": "{{payload.customer.name}}", "tags": "{{payload.customer.tags}}"}' });
    const text = prompt(r) as string;
    expect(text).toBe('Classify this record: {"text": "Line one.\\nHe said \\"hi\\" \\\\ bye", "who": "Ada", "tags": "[\\"vip\\",\\"eu\\"]"}');
    expect(JSON.parse(text.slice(text.indexOf('{')))).toEqual({ text: event.payload.text, who: 'Ada', tags: '["vip","eu"]' });
  });

  it('writes a JSON value inside JSON outside strings, typed as in the event', () => {
    const text = prompt(render({ prompt: 'Input: {"n": {{payload.count}}, "customer": {{payload.customer}}, "text": {{payload.text}}}' })) as string;
    expect(JSON.parse(text.slice('Input: '.length))).toEqual({ n: 3, customer: event.payload.customer, text: event.payload.text });
  });

  it('leaves quotes in prose alone (JSON context starts only inside { or [)', () => {
    expect(prompt(render({ prompt: 'The customer "{{payload.text}}" wrote.' }))).toBe(`The customer "${event.payload.text}" wrote.`);
  });

  it('renders chat messages, params and the callback URL', () => {
    const r = render({
      messages: [
        { role: 'system', content: 'You summarize {{type}} events.' },
        { role: 'user', content: '{{payload.text}}' },
      ],
      params: { max_tokens: 64, temperature: 0 },
      callbackUrl: 'https://hooks.example.com/result',
    });
    expect(r).toEqual({
      ok: true,
      job: {
        request: {
          model: 'demo-model',
          params: { max_tokens: 64, temperature: 0 },
          messages: [
            { role: 'system', content: 'You summarize demo.summarize events.' },
            { role: 'user', content: event.payload.text },
          ],
        },
        callbackUrl: 'https://hooks.example.com/result',
      },
    });
  });

  it('fails with the missing path named, for objects, arrays and scalars alike', () => {
    expect(render({ prompt: '{{payload.customer.email}}' })).toEqual({
      ok: false,
      reason: "template did not render: the event has no payload.customer.email (payload.customer has no 'email')",
    });
    expect(render({ prompt: '{{payload.customer.tags.2}}' })).toMatchObject({ ok: false, reason: expect.stringContaining("payload.customer.tags has no '2'") });
    expect(render({ prompt: '{{payload.count.digits}}' })).toMatchObject({ ok: false, reason: expect.stringContaining("payload.count has no 'digits'") });
    // Inherited properties are not paths of the event.
    expect(render({ prompt: '{{payload.customer.constructor}}' })).toMatchObject({ ok: false });
  });

  it('fails over the cap, for one prompt and for messages together, and on an empty result', () => {
    const long = { ...event, payload: { ...event.payload, text: 'x'.repeat(40_000) } };
    expect(render({ prompt: 'Summarize: {{payload.text}}' }, long)).toEqual({
      ok: false,
      reason: "template did not render: the rendered prompt is over the template's cap of 32768 characters",
    });
    expect(prompt(render({ prompt: '{{payload.text}}', maxChars: event.payload.text.length }))).toBe(event.payload.text);
    expect(render({ prompt: '{{payload.text}}!', maxChars: event.payload.text.length })).toMatchObject({ ok: false });
    const twice = render({
      messages: [
        { role: 'user', content: '{{payload.text}}' },
        { role: 'user', content: '{{payload.text}}' },
      ],
      maxChars: 40,
    });
    expect(twice).toEqual({ ok: false, reason: "template did not render: the rendered messages (at message 2) is over the template's cap of 40 characters" });
    expect(render({ prompt: '{{payload.customer.name}}' }, { ...event, payload: { ...event.payload, customer: { name: '  ', tags: [] } } })).toEqual({
      ok: false,
      reason: 'template did not render: the rendered prompt is empty',
    });
  });
});

describe('JobTemplateSchema', () => {
  const issues = (raw: Record<string, unknown>) => {
    const result = JobTemplateSchema.safeParse(raw);
    return result.success ? [] : describeIssues(result.error);
  };

  it('refuses placeholders that are not paths of the event, and unclosed ones', () => {
    expect(issues({ model: 'm', prompt: 'Hi {{payload.text | upper}}' })).toEqual([
      "prompt: placeholder '{{payload.text | upper}}' is not a path of the event (id, type, or payload.field.0.field)",
    ]);
    expect(issues({ model: 'm', prompt: 'Hi {{secrets.key}}' })[0]).toContain('is not a path of the event');
    expect(issues({ model: 'm', messages: [{ role: 'user', content: 'Hi {{payload.text' }] })).toEqual([
      "messages.0.content: an opening '{{' has no closing '}}'",
    ]);
  });

  it('needs exactly one of prompt and messages, a model name and known params', () => {
    expect(issues({ model: 'm' })).toEqual(['prompt: give exactly one of prompt or messages']);
    expect(issues({ model: 'm', prompt: 'a', messages: [{ role: 'user', content: 'b' }] })).toEqual(['prompt: give exactly one of prompt or messages']);
    expect(issues({ model: 'bad model', prompt: 'a' })[0]).toMatch(/^model: /);
    expect(issues({ model: 'm', prompt: 'a', params: { temperature: 5 } })[0]).toMatch(/^params\.temperature: /);
    expect(issues({ model: 'm', prompt: 'a', callbackUrl: 'ftp://x' })[0]).toMatch(/^callbackUrl: /);
    expect(issues({ model: 'm', prompt: 'a', extra: 1 })[0]).toContain('extra');
  });
});
