import { Validator } from '@seriousme/openapi-schema-validator';
import type OpenAI from 'openai';
import { BadRequestError } from 'openai';
import { type ClientStack, startClientStack } from './client-stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_VISION_MODEL, type Stack } from '../../tools/stack/stack';
import { PIXEL_PNG } from '../setup/image-host';

let stack: Stack;
let client: OpenAI;
let running: ClientStack | undefined;

beforeAll(async () => {
  running = await startClientStack('images', 'Images test');
  ({ stack, client } = running);
}, 120_000);

afterAll(async () => {
  await running?.stop();
});

const dataUrl = `data:image/png;base64,${PIXEL_PNG.toString('base64')}`;

describe('an image part on the vision model', () => {
  it('is answered by a container that saw one image, its tokens in the usage', async () => {
    const res = await client.chat.completions.create({
      model: LOCAL_VISION_MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image_url', image_url: { url: dataUrl, detail: 'low' } },
          ],
        },
      ],
      max_tokens: 32,
    });
    expect(res.choices[0]?.message.content).toBe(`I see 1 image: image/png (${PIXEL_PNG.byteLength} bytes).`);
    expect(res.usage?.prompt_tokens).toBeGreaterThan(765);
  });

  it('is refused on a model without vision, naming the model', async () => {
    const refused = await client.chat.completions
      .create({ model: 'llama-3.1-8b-vllm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl } }] }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).message).toContain("model 'llama-3.1-8b-vllm' does not support vision");
  });

  it('is documented in /openapi.json, a valid 3.1 document, and the model says it has vision', async () => {
    const doc = (await (await fetch(`${stack.gatewayUrl}/openapi.json`)).json()) as { components: { schemas: Record<string, unknown> } };
    expect((await new Validator().validate(doc)).errors ?? []).toEqual([]);
    expect(doc.components.schemas).toHaveProperty('ImageContentPart');
    expect(doc.components.schemas).toHaveProperty('TextContentPart');
    const models = (await client.models.list()).data as unknown as { id: string; capabilities?: { vision?: boolean } }[];
    expect(models.find((m) => m.id === LOCAL_VISION_MODEL)?.capabilities?.vision).toBe(true);
  });
});
