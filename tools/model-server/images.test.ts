/**
 * The reference model server's image parts, through the official client: an inline image is
 * counted as 765 prompt tokens and the answer says what the container saw, streamed too; a remote
 * URL is refused (a container must never be handed an address to fetch); `GET /admin/requests`
 * lists the images each request carried.
 */
import OpenAI, { BadRequestError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PIXEL_PNG } from '../../test/setup/image-host';
import { countTokens, renderChatPrompt } from './generator';
import { startModelServer, type ModelServer } from './server';

let server: ModelServer;
let openai: OpenAI;

beforeAll(async () => {
  server = await startModelServer();
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const url = `data:image/png;base64,${PIXEL_PNG.toString('base64')}`;
const content = [
  { type: 'text' as const, text: 'What is this?' },
  { type: 'image_url' as const, image_url: { url } },
  { type: 'image_url' as const, image_url: { url, detail: 'low' as const } },
];

describe('image parts', () => {
  it('answers with what it saw and counts 765 tokens an image', async () => {
    const res = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });
    expect(res.choices[0]?.message.content).toBe(`I see 2 images: image/png (${PIXEL_PNG.byteLength} bytes), image/png (${PIXEL_PNG.byteLength} bytes).`);
    expect(res.usage?.prompt_tokens).toBe(countTokens(renderChatPrompt([{ role: 'user', content: 'What is this?' }])) + 2 * 765);
  });

  it('streams the same answer', async () => {
    const stream = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toMatch(/^I see 2 images: /);
  });

  it('refuses a remote image URL', async () => {
    const refused = await openai.chat.completions
      .create({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).message).toContain('inline data:image');
  });

  it('lists the images each request carried', async () => {
    await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }] });
    const { requests } = (await (await fetch(`${server.url}/admin/requests`)).json()) as { requests: { images?: unknown[] }[] };
    expect(requests.at(-1)?.images).toEqual([
      { mime: 'image/png', bytes: PIXEL_PNG.byteLength },
      { mime: 'image/png', bytes: PIXEL_PNG.byteLength },
    ]);
  });
});
