/**
 * Image parts on `/v1/chat/completions`, in workerd against the real stack: a `data:` image and an
 * image the edge fetches itself (from the local image host, through the loopback allowance the
 * stack gives callbacks) reach the vision model inline; every bad image gets a 400 naming its part
 * (size, type by magic bytes, count, private or metadata address, redirects inward, a remote image that is
 * missing, of the wrong type or slow); a model without vision refuses images; a vision model takes
 * a body over the ordinary cap, another model does not; the reservation counts 765 tokens an image;
 * the cache key covers the image bytes.
 */
import { describe, expect, inject, it } from 'vitest';
import { estimateTokens } from '../../shared/tokens';
import { post } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';

const apiKey = inject('apiKey');
const imageHost = inject('imageHostUrl');
const vision = 'llava-1.6-7b-vllm';
const textOnly = 'llama-3.1-8b-vllm';

const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const PIXEL_BYTES = atob(PIXEL).length;
const png = `data:image/png;base64,${PIXEL}`;
const GIF = 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

const imagePart = (url: string) => ({ type: 'image_url', image_url: { url } });
const withImages = (...urls: string[]) => [
  { role: 'user', content: [{ type: 'text', text: `What is in the picture? ${crypto.randomUUID()}` }, ...urls.map(imagePart)] },
];
const chat = (body: Record<string, unknown>, key = apiKey, headers: Record<string, string> = {}) =>
  post('/v1/chat/completions', key, { model: vision, max_tokens: 16, ...body }, headers);

async function refusal(res: Response): Promise<{ status: number; code: string; message: string; paths: string[] }> {
  const body = (await res.json()) as { error: { code: string; message: string; details?: { issues?: { path: string }[] } } };
  return { status: res.status, code: body.error.code, message: body.error.message, paths: (body.error.details?.issues ?? []).map((i) => i.path) };
}

async function answer(res: Response): Promise<{ content: string; prompt_tokens: number }> {
  expect(res.status).toBe(200);
  const body = (await res.json()) as { choices: { message: { content: string } }[]; usage: { prompt_tokens: number } };
  return { content: body.choices[0]!.message.content, prompt_tokens: body.usage.prompt_tokens };
}

const PART = 'messages.0.content.1.image_url.url';

describe('images answered', () => {
  it('answers a data: URL image, which reaches the container inline and counts as tokens', async () => {
    const got = await answer(await chat({ messages: withImages(png) }));
    expect(got.content).toBe(`I see 1 image: image/png (${PIXEL_BYTES} bytes).`);
    expect(got.prompt_tokens).toBeGreaterThan(765);
  });

  it('fetches an https (here: local) image itself and passes it inline, following a redirect it re-checks', async () => {
    expect((await answer(await chat({ messages: withImages(`${imageHost}/pixel.png`) }))).content).toBe(`I see 1 image: image/png (${PIXEL_BYTES} bytes).`);
    expect((await answer(await chat({ messages: withImages(`${imageHost}/to-pixel`, `data:image/gif;base64,${GIF}`) }))).content).toMatch(
      /^I see 2 images: image\/png \(\d+ bytes\), image\/gif \(\d+ bytes\)\.$/,
    );
  });

  it('streams an answer to an image', async () => {
    const res = await chat({ messages: withImages(png), stream: true });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('image');
    expect(text).toContain('[DONE]');
  });

  it('keys the cache on the image bytes, not the URL', async () => {
    const messages = withImages(png);
    const first = await chat({ messages, temperature: 0 });
    await first.text();
    const again = await chat({ messages: [{ ...messages[0]!, content: [messages[0]!.content[0]!, imagePart(`${imageHost}/pixel.png`)] }], temperature: 0 });
    expect(again.status).toBe(200);
    expect(again.headers.get('x-cache')).toBe('HIT');
    const other = await chat({
      messages: [{ ...messages[0]!, content: [messages[0]!.content[0]!, imagePart(`data:image/gif;base64,${GIF}`)] }],
      temperature: 0,
    });
    expect(other.headers.get('x-cache')).not.toBe('HIT');
  });
});

describe('bad images', () => {
  it.each([
    ['an unknown declared type', 'data:image/bmp;base64,Qk0=', 'image/bmp'],
    ['bytes that are no image (magic bytes)', `data:image/png;base64,${btoa('plain text, not a PNG')}`, 'PNG, JPEG, WebP or GIF'],
    ['a data: URL that is not base64', 'data:image/png,abc', 'base64'],
    ['an image over 5 MiB', `data:image/png;base64,${'A'.repeat(7_100_000)}`, 'exceeds 5242880 bytes'],
    ['a private address', 'https://10.1.2.3/cat.png', 'private'],
    ['the metadata address', 'https://169.254.169.254/latest/meta-data', 'metadata'],
    ['an internal host name', 'https://images.internal/cat.png', 'internal host name'],
    ['plain http to a public host', 'http://example.com/cat.png', 'https'],
    ['a redirect to a private address', `${imageHost}/to-private`, 'redirects to a URL that'],
    ['a remote image of the wrong content type', `${imageHost}/page.html`, "content type 'text/html'"],
    ['a remote image whose bytes are no image', `${imageHost}/fake.png`, 'PNG, JPEG, WebP or GIF'],
    ['a remote image over the cap', `${imageHost}/huge.png`, 'exceeds 5242880 bytes'],
    ['a remote image that is missing', `${imageHost}/missing.png`, 'HTTP 404'],
    ['a remote image that never comes', `${imageHost}/slow.png`, 'within 1000 ms'],
    ['a host that refuses the connection', 'http://127.0.0.1:1/cat.png', 'could not be fetched'],
  ])('refuses %s with a 400 naming the part', async (_, url, message) => {
    const got = await refusal(await chat({ messages: withImages(url) }));
    expect(got).toMatchObject({ status: 400, code: 'INVALID_INPUT', paths: [PART] });
    expect(got.message).toContain(message);
  });

  it('refuses more than 8 images', async () => {
    const got = await refusal(await chat({ messages: withImages(...Array.from({ length: 9 }, () => png)) }));
    expect(got).toMatchObject({ status: 400, paths: ['messages'] });
    expect(got.message).toContain('at most 8');
  });

  it('refuses an unknown part type with its path', async () => {
    const messages = [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }];
    expect(await refusal(await chat({ messages }))).toMatchObject({ status: 400, paths: ['messages.0.content.0.type'] });
  });

  it('refuses an image on a model without vision, naming the model, before fetching anything', async () => {
    const got = await refusal(await chat({ model: textOnly, messages: withImages(`${imageHost}/slow.png`) }));
    expect(got).toMatchObject({ status: 400, paths: ['messages.0.content'] });
    expect(got.message).toBe(`messages.0.content: model '${textOnly}' does not support vision`);
  });
});

describe('body caps', () => {
  // About 3 MiB of base64: over the ordinary 1 MiB cap, under the vision cap and the image cap.
  const big = `data:image/png;base64,${PIXEL.slice(0, 20)}${'A'.repeat(3_000_000)}`;

  it('takes a body over 1 MiB for a vision model', async () => {
    const got = await answer(await chat({ messages: withImages(big) }));
    expect(got.content).toMatch(/^I see 1 image: image\/png \(\d+ bytes\)\.$/);
  });

  it('refuses images within their caps that come to more than an adapter invocation takes', async () => {
    const got = await refusal(await chat({ messages: withImages(big, big) }));
    expect(got).toMatchObject({ status: 400, code: 'INVALID_INPUT', paths: ['messages'] });
    expect(got.message).toContain('at most 6000000 reach the model');
  });

  it('refuses the same body for a model without vision with a 413 naming the model', async () => {
    const got = await refusal(await chat({ model: textOnly, messages: withImages(big) }));
    expect(got).toMatchObject({ status: 413, code: 'INVALID_INPUT' });
    expect(got.message).toContain(`model '${textOnly}'`);
  });
});

describe('token reservation', () => {
  it('reserves 765 tokens for each image beside the text and max_tokens', async () => {
    const turn = (n: number) => [{ role: 'user', content: [{ type: 'text', text: 'Describe.' }, ...Array.from({ length: n }, () => imagePart(png))] }];
    const { key } = await seedTenantKey({ overrides: { tokensPerMinute: 100_000 } });
    const one = await chat({ messages: turn(1), max_tokens: 10 }, key);
    const reservedOne = 100_000 - Number(one.headers.get('x-tokenlimit-remaining'));
    await one.text();
    const { key: key2 } = await seedTenantKey({ overrides: { tokensPerMinute: 100_000 } });
    const three = await chat({ messages: turn(3), max_tokens: 10 }, key2);
    const reservedThree = 100_000 - Number(three.headers.get('x-tokenlimit-remaining'));
    await three.text();
    expect(reservedOne).toBe(estimateTokens('Describe.') + 765 + 10);
    expect(reservedThree - reservedOne).toBe(2 * 765);
  });
});
