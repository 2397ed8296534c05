/**
 * Image parts of a chat request, made inline before the call is planned further: a `data:` URL is
 * decoded, an `https` URL is fetched by the edge itself (public hosts only, by the callback SSRF
 * guard's rules; a redirect is followed only to a URL the guard allows again; content type checked;
 * a deadline), and each image's bytes are checked (size cap, PNG/JPEG/WebP/GIF by their magic
 * bytes) and passed on as a `data:` URL, so a container never fetches an address from a request.
 * The whole inlined payload must fit an adapter invocation (MAX_INVOKE_PAYLOAD_BYTES).
 * Every refusal is a 400 INVALID_INPUT naming the part's path: a remote image that cannot be had
 * (timeout, 404, refused) is the client's bad URL, never a 5xx.
 */
import type { BackendInferRequestInput, ChatMessage, ContentPart } from '../../shared/contracts/backend';
import { MAX_INVOKE_PAYLOAD_BYTES } from '../../shared/contracts/boundary';
import { callbackUrlProblem } from '../queues/ssrf';
import { invalidField } from './chat-input';

/** The caps and fetch rules of image parts (config `images`). */
export interface ImageSettings {
  readonly maxPerRequest: number;
  /** Most decoded bytes of one image. */
  readonly maxBytes: number;
  readonly fetchTimeoutMs: number;
  /** The local stack's loopback allowance (CALLBACK_ALLOW_LOOPBACK), as for callbacks. */
  readonly allowLoopback: boolean;
}

/** How the edge fetches a remote image (the Workers `fetch`; a test may pass its own). */
type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

const MAX_REDIRECTS = 3;

/** The image types a container is given, by their leading bytes. */
const SIGNATURES: ReadonlyArray<{ readonly mime: string; readonly matches: (b: Uint8Array) => boolean }> = [
  { mime: 'image/png', matches: (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { mime: 'image/jpeg', matches: (b) => startsWith(b, [0xff, 0xd8, 0xff]) },
  { mime: 'image/gif', matches: (b) => startsWith(b, [0x47, 0x49, 0x46, 0x38]) },
  { mime: 'image/webp', matches: (b) => startsWith(b, [0x52, 0x49, 0x46, 0x46]) && startsWith(b.subarray(8), [0x57, 0x45, 0x42, 0x50]) },
];
const MIME_TYPES = SIGNATURES.map((s) => s.mime);

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((v, i) => bytes[i] === v);
}

/** Counts the image parts of a payload's messages. */
export function imageCount(payload: BackendInferRequestInput): number {
  if (!('messages' in payload)) return 0;
  return payload.messages.reduce((n, m) => n + (m.parts?.filter((p) => p.type === 'image_url').length ?? 0), 0);
}

/** The payload with every image part as a checked `data:` URL; throws ApiError (400) naming the first bad part. */
export async function inlineImages(payload: BackendInferRequestInput, settings: ImageSettings, fetcher: Fetcher = fetch): Promise<BackendInferRequestInput> {
  if (!('messages' in payload)) return payload;
  const count = imageCount(payload);
  if (count === 0) return payload;
  if (count > settings.maxPerRequest) throw invalidField('messages', `${count} images: at most ${settings.maxPerRequest} per request`);
  const messages = await Promise.all(
    payload.messages.map(async (m, i): Promise<ChatMessage> => {
      if (!m.parts) return m;
      const parts = await Promise.all(m.parts.map((p, j) => inlinePart(p, `messages.${i}.content.${j}.image_url.url`, settings, fetcher)));
      return { ...m, parts };
    }),
  );
  const inlined = { ...payload, messages };
  // The adapter is a Lambda: images within their own caps may still come to more than it takes.
  const bytes = new TextEncoder().encode(JSON.stringify(inlined)).byteLength;
  if (bytes > MAX_INVOKE_PAYLOAD_BYTES) {
    throw invalidField('messages', `the request with its images inline comes to ${bytes} bytes: at most ${MAX_INVOKE_PAYLOAD_BYTES} reach the model`);
  }
  return inlined;
}

async function inlinePart(part: ContentPart, path: string, settings: ImageSettings, fetcher: Fetcher): Promise<ContentPart> {
  if (part.type !== 'image_url') return part;
  const { url, detail } = part.image_url;
  const bytes = url.startsWith('data:') ? decodeDataUrl(url, path, settings) : await fetchImage(url, path, settings, fetcher);
  const mime = SIGNATURES.find((s) => s.matches(bytes))?.mime;
  if (!mime) throw invalidField(path, `is not a PNG, JPEG, WebP or GIF image (by its bytes)`);
  return { type: 'image_url', image_url: { url: `data:${mime};base64,${toBase64(bytes)}`, ...(detail ? { detail } : {}) } };
}

function tooLarge(path: string, settings: ImageSettings): never {
  throw invalidField(path, `image exceeds ${settings.maxBytes} bytes`);
}

function decodeDataUrl(url: string, path: string, settings: ImageSettings): Uint8Array {
  const match = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!match) throw invalidField(path, 'is a malformed data: URL');
  const [, mime = '', params = '', data = ''] = match;
  if (!MIME_TYPES.includes(mime.toLowerCase())) throw invalidField(path, `type '${mime || '(none)'}' is not one of ${MIME_TYPES.join(', ')}`);
  if (!params.split(';').includes('base64')) throw invalidField(path, 'a data: URL image must be base64');
  const clean = data.replace(/\s+/g, '');
  if (Math.floor((clean.length * 3) / 4) - 2 > settings.maxBytes) tooLarge(path, settings);
  let binary: string;
  try {
    binary = atob(clean);
  } catch {
    throw invalidField(path, 'is not valid base64');
  }
  if (binary.length > settings.maxBytes) tooLarge(path, settings);
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

async function fetchImage(url: string, path: string, settings: ImageSettings, fetcher: Fetcher): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(settings.fetchTimeoutMs);
  let target = url;
  for (let hop = 0; ; hop++) {
    const problem = callbackUrlProblem(target, settings.allowLoopback);
    if (problem) throw invalidField(path, hop === 0 ? `image URL ${problem}` : `image URL redirects to a URL that ${problem}`);
    let res: Response;
    try {
      res = await fetcher(target, { redirect: 'manual', signal, headers: { accept: MIME_TYPES.join(', ') } });
    } catch (error) {
      if (signal.aborted) throw invalidField(path, `image was not fetched within ${settings.fetchTimeoutMs} ms`);
      throw invalidField(path, `image could not be fetched (${error instanceof Error ? error.message : String(error)})`);
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      if (hop + 1 > MAX_REDIRECTS) throw invalidField(path, `image URL redirects more than ${MAX_REDIRECTS} times`);
      target = new URL(location, target).href;
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw invalidField(path, `image could not be fetched: the host answered HTTP ${res.status}`);
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!MIME_TYPES.includes(type)) {
      await res.body?.cancel();
      throw invalidField(path, `image content type '${type || '(none)'}' is not one of ${MIME_TYPES.join(', ')}`);
    }
    return readCapped(res, path, settings, signal);
  }
}

/** The body's bytes, refused as soon as they pass the cap (a declared length over it is refused unread). */
async function readCapped(res: Response, path: string, settings: ImageSettings, signal: AbortSignal): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > settings.maxBytes || !res.body) {
    await res.body?.cancel();
    if (!res.body) throw invalidField(path, 'image has an empty body');
    tooLarge(path, settings);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > settings.maxBytes) {
        await reader.cancel();
        tooLarge(path, settings);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (signal.aborted) throw invalidField(path, `image was not fetched within ${settings.fetchTimeoutMs} ms`);
    throw error;
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
