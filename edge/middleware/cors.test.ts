import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../app';

const app = createApp();
const withOrigins = (origins: string) => ({ ...(env as object), CORS_ORIGINS: origins });

describe('CORS', () => {
  it('answers a preflight from a configured origin before auth', async () => {
    const res = await app.request(
      '/v1/chat/completions',
      {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      },
      withOrigins('https://app.example, https://admin.example'),
    );
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  });

  it('sends no CORS headers to an origin that is not listed, or when none is configured', async () => {
    const other = await app.request('/v1/models', { headers: { origin: 'https://evil.example' } }, withOrigins('https://app.example'));
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const none = await app.request('/v1/models', { headers: { origin: 'https://app.example' } }, env);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('exposes the gateway headers to browsers on real answers', async () => {
    const res = await app.request('/v1/models', { headers: { origin: 'https://app.example' } }, withOrigins('*'));
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')).toContain('X-Request-ID');
  });
});
