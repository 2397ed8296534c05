/** The callback URL guard: https only, no internal addresses or names; loopback only when allowed. */
import { describe, expect, it } from 'vitest';
import { backoffSeconds } from './settings';
import { callbackUrlProblem } from './ssrf';

describe('callbackUrlProblem', () => {
  it.each([
    'http://example.com/cb',
    'https://127.0.0.1/cb',
    'https://localhost/cb',
    'https://[::1]/cb',
    'https://10.1.2.3/cb',
    'https://172.20.0.1/cb',
    'https://192.168.0.10/cb',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1/cb',
    'https://0.0.0.0/cb',
    'https://[fd00:ec2::254]/cb',
    'https://[fe80::1]/cb',
    'https://[::ffff:10.0.0.1]/cb',
    'https://0x7f000001/cb',
    'https://2130706433/cb',
    'https://metadata.google.internal/cb',
    'https://intranet/cb',
    'https://user:pw@example.com/cb',
    'not a url',
  ])('refuses %s', (url) => {
    expect(callbackUrlProblem(url, false)).toBeDefined();
  });

  it('allows public https URLs, and loopback http only with the dev setting', () => {
    expect(callbackUrlProblem('https://hooks.example.com/jobs', false)).toBeUndefined();
    expect(callbackUrlProblem('https://203.0.113.7/jobs', false)).toBeUndefined();
    expect(callbackUrlProblem('http://127.0.0.1:9999/cb', true)).toBeUndefined();
    expect(callbackUrlProblem('http://127.0.0.1:9999/cb', false)).toBeDefined();
    expect(callbackUrlProblem('http://10.0.0.1/cb', true)).toBeDefined();
  });
});

describe('backoffSeconds', () => {
  it('doubles per attempt with jitter in the upper half, capped at an hour', () => {
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 30, () => 0))).toEqual([15, 30, 60, 120]);
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 30, () => 1))).toEqual([30, 60, 120, 240]);
    expect(backoffSeconds(30, 30, () => 1)).toBe(3600);
  });
});
