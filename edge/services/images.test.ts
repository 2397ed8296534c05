/**
 * The image inliner with the SSRF guard as production runs it (no loopback allowance): loopback,
 * private, metadata and internal addresses are refused before any fetch, a redirect is re-checked
 * (one to loopback is refused), and a data: image comes back as a data: URL of its detected type.
 * The fetcher is a stand-in that records what it was asked for (the route tests fetch for real).
 */
import { describe, expect, it } from 'vitest';
import type { BackendInferRequestInput } from '../../shared/contracts/backend';
import { ApiError } from '../errors';
import { inlineImages } from './images';

const settings = { maxPerRequest: 8, maxBytes: 1024, fetchTimeoutMs: 500, allowLoopback: false };
const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

const payload = (url: string): BackendInferRequestInput => ({
  request_id: 'r',
  tenant_id: 't',
  model: 'm',
  messages: [
    {
      role: 'user',
      content: 'look',
      parts: [
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url } },
      ],
    },
  ],
});

function recordingFetcher(answer: (url: string) => Response) {
  const asked: string[] = [];
  const fetcher = async (url: string) => {
    asked.push(url);
    return answer(url);
  };
  return { asked, fetcher };
}

async function problem(work: Promise<unknown>): Promise<string> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  return (error as ApiError).message;
}

describe('inlineImages', () => {
  it.each([
    ['https://127.0.0.1/a.png', 'loopback'],
    ['https://2130706433/a.png', 'loopback'],
    ['https://localhost/a.png', 'loopback'],
    ['https://app.localhost./a.png', 'loopback'],
    ['https://[::1]/a.png', 'loopback'],
    ['https://10.0.0.5/a.png', 'private'],
    ['https://192.168.1.1/a.png', 'private'],
    ['https://169.254.169.254/latest/meta-data/', 'metadata'],
    ['https://[::ffff:169.254.169.254]/', 'metadata'],
    ['https://printer.local/a.png', 'internal host name'],
    ['http://example.com/a.png', 'must be https'],
  ])('refuses %s before fetching anything', async (url, why) => {
    const { asked, fetcher } = recordingFetcher(() => new Response('x'));
    const message = await problem(inlineImages(payload(url), settings, fetcher));
    expect(message).toMatch(/^messages\.0\.content\.1\.image_url\.url: image URL /);
    expect(message).toContain(why);
    expect(asked).toEqual([]);
  });

  it('re-checks a redirect and refuses one that points at loopback', async () => {
    const { asked, fetcher } = recordingFetcher(() => new Response(null, { status: 302, headers: { location: 'http://127.0.0.1:8080/x.png' } }));
    expect(await problem(inlineImages(payload('https://images.example.com/a.png'), settings, fetcher))).toContain('redirects to a URL that');
    expect(asked).toEqual(['https://images.example.com/a.png']);
  });

  it('stops after three redirects', async () => {
    const { asked, fetcher } = recordingFetcher((url) => new Response(null, { status: 301, headers: { location: `${url}x` } }));
    expect(await problem(inlineImages(payload('https://images.example.com/a'), settings, fetcher))).toContain('more than 3 times');
    expect(asked).toHaveLength(4);
  });

  it('inlines a fetched image as a data: URL of the type its bytes show', async () => {
    const bytes = Uint8Array.from(atob(PIXEL), (c) => c.charCodeAt(0));
    const { fetcher } = recordingFetcher(() => new Response(bytes, { headers: { 'content-type': 'image/webp' } }));
    const out = await inlineImages(payload('https://images.example.com/a.webp'), settings, fetcher);
    expect('messages' in out && out.messages[0]?.parts?.[1]).toEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${PIXEL}` } });
  });

  it('leaves a payload without images as it is', async () => {
    const plain: BackendInferRequestInput = { request_id: 'r', tenant_id: 't', model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect(await inlineImages(plain, settings)).toBe(plain);
  });
});
