/**
 * Test support for the embeddings routes inside workerd: the local stack's two embeddings models,
 * requests through the worker or an app of the test's own (its own batcher, bindings and signal),
 * base64 vectors decoded as the official SDK decodes them, and the model server's per-route counters.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { inject } from 'vitest';
import type { EmbeddingList } from '../../shared/contracts/embeddings';
import { createApp } from '../app';
import type { IsolateServices } from '../services/isolate';
import { BASE } from './gateway-client';

/** The TEI model on a SageMaker endpoint and the vLLM model on the ECS service (tools/stack/stack.ts). */
export const TEI_MODEL = 'bge-small-en-tei';
export const VLLM_MODEL = 'e5-small-vllm';

/** A little-endian float32 base64 vector decoded, as the openai SDK does. */
export function decodeBase64(text: string): number[] {
  const binary = atob(text);
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  return Array.from({ length: binary.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

export const vectorsOf = async (res: Response) => ((await res.json()) as EmbeddingList).data.map((d) => d.embedding as number[]);

type RouteCounters = { invocations: number; succeeded: number; failed: number; promptTokens: number };
/** The model server's counters of one route (`sagemaker.embeddings`, `openai.embeddings`). */
export async function routeStats(route: string): Promise<RouteCounters> {
  const stats = (await fetch(`${inject('modelServerUrl')}/admin/stats`).then((r) => r.json())) as { byRoute: Record<string, RouteCounters> };
  return stats.byRoute[route] ?? { invocations: 0, succeeded: 0, failed: 0, promptTokens: 0 };
}

/** An app of the test's own on the stack's bindings (`vars` override some), sharing one isolate's services. */
export function embeddingsApp(vars: Record<string, string> = {}, services: Partial<IsolateServices> = {}) {
  const app = createApp(services);
  const bindings = { ...env, ...vars };
  return {
    async send(key: string, body: unknown, init: { signal?: AbortSignal } = {}) {
      const ctx = createExecutionContext();
      const res = await app.request(
        `${BASE}/v1/embeddings`,
        { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: init.signal },
        bindings,
        ctx,
      );
      return { res, background: () => waitOnExecutionContext(ctx) };
    },
  };
}
