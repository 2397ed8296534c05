import { describe, expect, it } from 'vitest';
import { ConfigError, type Bindings } from '../env';
import { getAsyncSettings } from './settings';

describe('getAsyncSettings', () => {
  it('reads webhook sources with their secrets (several per binding for rotation)', () => {
    const env = {
      WEBHOOK_SOURCES: JSON.stringify({ stripe: { scheme: 'timestamp', secrets: ['STRIPE_SECRET'] } }),
      STRIPE_SECRET: 'old, new',
    } as unknown as Bindings;
    expect(getAsyncSettings(env).sources.get('stripe')).toMatchObject({ scheme: 'timestamp', secrets: ['old', 'new'] });
  });

  it('names every bad setting: invalid JSON, a bad source field, a bad number', () => {
    const fail = (env: Record<string, string>) => {
      try {
        getAsyncSettings(env as unknown as Bindings);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    expect(fail({ WEBHOOK_SOURCES: '{oops' })).toBe('invalid edge configuration: WEBHOOK_SOURCES: is not valid JSON');
    expect(fail({ WEBHOOK_SOURCES: JSON.stringify({ s: { scheme: 'nope', secrets: ['X'] } }), WEBHOOK_TOLERANCE_SECONDS: '-5' })).toMatch(
      /^invalid edge configuration: WEBHOOK_SOURCES\.s\.scheme: .+; toleranceSeconds: /,
    );
  });
});
