/**
 * The token limits' accounting of agent requests, in workerd against real Redis (bridge): the
 * reservation counts the tool definitions, the tool calls of earlier turns and the output schema
 * beside the messages, and a tool-call answer settles to the backend's real usage.
 */
import { describe, expect, it } from 'vitest';
import { estimateTokens } from '../../../shared/tokens';
import { bridgeQuiet, eventually, post, sseMessages } from '../../testing/gateway-client';
import { seedTenantKey, store } from '../../testing/seed';

const model = 'llama-3.1-8b-vllm';

const tools = [
  {
    type: 'function',
    function: {
      name: 'lookup',
      description: 'Looks a word up in a dictionary that has a long description to make the definition cost tokens',
      parameters: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'] },
    },
  },
];
const messages = [{ role: 'user', content: 'Define gateway.' }];

async function dayTokens(tenantId: string): Promise<number> {
  await bridgeQuiet();
  const keys = await store.keys(`gw:rl:tokens:day:${tenantId}:*`);
  const counts = await Promise.all(keys.map(async (k) => Number(await store.get<number>(k))));
  return counts.reduce((a, b) => a + b, 0);
}

describe('token reservation of agent requests', () => {
  it('reserves for the tool definitions beside the messages and max_tokens', async () => {
    const { key } = await seedTenantKey({ overrides: { tokensPerMinute: 100_000 } });
    const res = await post('/v1/chat/completions', key, { model, messages, tools, max_tokens: 20 });
    expect(res.status).toBe(200);
    const reserved = 100_000 - Number(res.headers.get('x-tokenlimit-remaining'));
    const prompt = `${messages[0]!.content}\n${JSON.stringify(tools.map((t) => ({ type: t.type, function: t.function })))}`;
    expect(reserved).toBe(estimateTokens(prompt) + 20);
    expect(reserved - 20).toBeGreaterThan(estimateTokens(JSON.stringify(tools)) - 1);
  });

  it('reserves for the tool calls of earlier turns', async () => {
    const { key } = await seedTenantKey({ overrides: { tokensPerMinute: 100_000 } });
    const call = { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ word: 'x'.repeat(400) }) } };
    const history = [...messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', content: 'a word' }];
    const res = await post('/v1/chat/completions', key, { model, messages: history, tools, max_tokens: 5 });
    expect(res.status).toBe(200);
    expect(100_000 - Number(res.headers.get('x-tokenlimit-remaining'))).toBeGreaterThan(100 + 5);
  });

  it('settles a streamed tool call to the real usage', async () => {
    const { key, tenant } = await seedTenantKey({ overrides: { tokensPerDay: 100_000 } });
    const res = await post('/v1/chat/completions', key, {
      model,
      messages,
      tools,
      tool_choice: 'required',
      max_tokens: 200,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    const reserved = 100_000 - Number(res.headers.get('x-tokenlimit-remaining'));
    const chunks = (await sseMessages(res)).filter((m) => m.data !== '[DONE]').map((m) => JSON.parse(m.data) as { usage?: { total_tokens: number } });
    const used = chunks.at(-1)?.usage?.total_tokens ?? 0;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(reserved);
    expect(
      await eventually(
        () => dayTokens(tenant.tenantId),
        (n) => n === used,
      ),
    ).toBe(used);
  });
});
