/** Unit tests of the CLI's value parsers: durations, counts, scopes, ids, names and callback URLs. */
import { describe, expect, it } from 'vitest';
import { parseCallbackUrl, parseDuration, parseKeyId, parseName, parsePositiveInt, parseScopes, parseTenantId, UsageError } from './args';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['24h', 86_400_000],
    ['30d', 2_592_000_000],
    ['2w', 1_209_600_000],
    ['1d12h', 129_600_000],
    ['3650d', 315_360_000_000],
  ])('reads %s', (text, ms) => expect(parseDuration(text, 'x')).toBe(ms));

  it.each(['', '0', '0s', '10', 'h', '1.5h', '-1h', '1 h', '1y', '1h-', '3651d', '9999999d'])('rejects %j', (text) => {
    expect(() => parseDuration(text, 'x')).toThrow(UsageError);
  });

  it('accepts zero only when asked', () => {
    expect(parseDuration('0', 'grace', { allowZero: true })).toBe(0);
    expect(parseDuration('0h', 'grace', { allowZero: true })).toBe(0);
  });
});

describe('other values', () => {
  it('reads positive whole numbers only', () => {
    expect(parsePositiveInt('1000', 'n')).toBe(1000);
    for (const bad of ['0', '-1', '1.5', '1e3', 'abc', '', '9999999999999999']) expect(() => parsePositiveInt(bad, 'n')).toThrow(UsageError);
  });

  it('reads scope lists, dropping duplicates and blanks', () => {
    expect(parseScopes('infer, jobs,,infer')).toEqual(['infer', 'jobs']);
    expect(parseScopes('webhooks:ingest,admin')).toEqual(['webhooks:ingest', 'admin']);
    expect(() => parseScopes('INFER')).toThrow(/unknown scope 'INFER'/);
  });

  it('checks ids and names', () => {
    expect(parseTenantId('ten_abc-1')).toBe('ten_abc-1');
    for (const bad of ['ab', 'Ten_x', '1abc', 'ten x', 'a'.repeat(65)]) expect(() => parseTenantId(bad)).toThrow(UsageError);
    expect(parseKeyId('key_live_0123')).toBe('key_live_0123');
    expect(() => parseKeyId('gw_live_x')).toThrow(UsageError);
    expect(parseName('  CI runner ', 'name', 64)).toBe('CI runner');
    expect(() => parseName('bell\u0007', 'name', 64)).toThrow(UsageError);
    expect(() => parseName('x'.repeat(65), 'name', 64)).toThrow(UsageError);
  });

  it('allows https callback URLs, and http only on this machine', () => {
    expect(parseCallbackUrl('https://hooks.example.com/gw')).toBe('https://hooks.example.com/gw');
    expect(parseCallbackUrl('http://127.0.0.1:9000/cb')).toBe('http://127.0.0.1:9000/cb');
    expect(parseCallbackUrl('http://localhost/cb')).toBe('http://localhost/cb');
    for (const bad of ['http://example.com', 'ftp://example.com', 'not a url', 'https://user:pw@example.com']) {
      expect(() => parseCallbackUrl(bad)).toThrow(UsageError);
    }
  });
});
