/**
 * Image parts through the official `openai` client, unchanged, against the local stack: a data: URL
 * image sent to the vision model (vLLM on the ECS adapter) is answered by a container that saw it;
 * a model without vision refuses it with a 400 naming the model; /openapi.json documents the parts
 * and stays a valid OpenAPI 3.1 document.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import OpenAI, { BadRequestError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_VISION_MODEL, REPO_ROOT, startStack, type Stack } from '../../tools/stack/stack';
import { PIXEL_PNG } from '../setup/image-host';

let stack: Stack;
let stateDir: string;
let client: OpenAI;
const run = promisify(execFile);

async function gw(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'tools/cli/main.ts'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, STACK_STATE_DIR: stateDir, UPSTASH_REDIS_REST_URL: '', UPSTASH_REDIS_REST_TOKEN: '' },
  });
  return stdout;
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gw-images-'));
  stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir });
  const tenantId = `ten_images${Date.now().toString(36)}`;
  await gw('tenant', 'create', '--name', 'Images test', '--plan', 'pro', '--id', tenantId, '--json');
  const created = JSON.parse(await gw('key', 'create', tenantId, '--scopes', 'infer', '--json')) as { apiKey: string };
  client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: created.apiKey, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(stateDir, { recursive: true, force: true });
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
