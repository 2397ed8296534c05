/**
 * Image content parts as the reference model server takes them (OpenAI chat, TGI Messages, LMI's
 * chat schema): inline `data:image/…;base64,` URLs only, since the gateway's edge inlines every
 * image and a container must never be handed an address to fetch. Each image counts as
 * {@link IMAGE_TOKENS} prompt tokens (LLaVA-style fixed cost), and the answer says what it saw, so a
 * test can tell the images reached the container.
 */
import * as z from 'zod';

/** Prompt tokens one image costs. */
export const IMAGE_TOKENS = 765;

export const imagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({
    url: z.string().regex(/^data:image\/[a-z]+;base64,/, { error: 'the reference model server takes inline data:image/…;base64 URLs only' }),
    detail: z.enum(['auto', 'low', 'high']).nullish(),
  }),
});

/** One image a request carried: its declared type and decoded size. */
export interface ReceivedImage {
  readonly mime: string;
  readonly bytes: number;
}

/** The images of the parts, in order. */
export function imagesOf(parts: readonly { type: string; image_url?: { url: string } }[]): ReceivedImage[] {
  return parts.flatMap((p) => {
    if (p.type !== 'image_url' || !p.image_url) return [];
    const [head = '', data = ''] = p.image_url.url.split(',', 2);
    return [{ mime: head.slice('data:'.length, head.indexOf(';')), bytes: Buffer.from(data, 'base64').byteLength }];
  });
}

/** The deterministic answer to a request with images. */
export function imageAnswer(images: readonly ReceivedImage[]): string {
  const list = images.map((i) => `${i.mime} (${i.bytes} bytes)`).join(', ');
  return `I see ${images.length} image${images.length === 1 ? '' : 's'}: ${list}.`;
}
