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
    'https://[::]/cb',
    'https://[fd00:ec2::254]/cb',
    'https://[fe80::1]/cb',
    'https://[fec0::1]/cb',
    'https://[ff02::1]/cb',
    'https://[::ffff:10.0.0.1]/cb',
    'https://metadata.google.internal/cb',
    'https://intranet/cb',
    'https://user:pw@example.com/cb',
    'not a url',
  ])('refuses %s', (url) => {
    expect(callbackUrlProblem(url, false)).toBeDefined();
  });

  it.each([
    // IPv4 in the spellings inet_aton accepts: decimal, hex, octal, short forms, mixed.
    ['https://2130706433/cb', 'loopback'],
    ['https://0x7f000001/cb', 'loopback'],
    ['https://0x7f.1/cb', 'loopback'],
    ['https://127.1/cb', 'loopback'],
    ['https://0177.0.0.1/cb', 'loopback'],
    ['https://017700000001/cb', 'loopback'],
    ['https://0xa.0x1.2/cb', 'private'],
    ['https://167772161/cb', 'private'],
    ['https://0251.0376.0251.0376/latest/meta-data', 'private'],
    ['https://2852039166/latest/meta-data', 'private'],
    ['https://%31%32%37.0.0.1/cb', 'loopback'],
    // IPv6 literals that carry an IPv4 address: compatible, mapped (both spellings), SIIT, NAT64, 6to4.
    ['https://[::7f00:1]/cb', 'loopback'],
    ['https://[::127.0.0.1]/cb', 'loopback'],
    ['https://[::ffff:127.0.0.1]/cb', 'loopback'],
    ['https://[::ffff:7f00:1]/cb', 'loopback'],
    ['https://[0:0:0:0:0:ffff:a9fe:a9fe]/latest/meta-data', 'private'],
    ['https://[::ffff:0:10.0.0.1]/cb', 'private'],
    ['https://[::a9fe:a9fe]/cb', 'private'],
    ['https://[64:ff9b::7f00:1]/cb', 'private'],
    ['https://[64:ff9b::169.254.169.254]/cb', 'private'],
    ['https://[64:ff9b:1::1]/cb', 'private'],
    ['https://[2002:7f00:1::]/cb', 'private'],
    ['https://[2002:a9fe:a9fe::1]/cb', 'private'],
    ['https://[2002:c0a8:0001:1::1]/cb', 'private'],
    ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/cb', 'private'],
    ['https://[0:0:0:0:0:0:0:1]/cb', 'loopback'],
    ['https://[FE80::1]/cb', 'private'],
    // Names: trailing dots, case, reserved suffixes, public names that resolve to loopback.
    ['https://localhost./cb', 'loopback'],
    ['https://LOCALHOST/cb', 'loopback'],
    ['https://api.localhost./cb', 'loopback'],
    ['https://metadata.google.internal./computeMetadata/v1/', 'name'],
    ['https://Metadata.Google.Internal/computeMetadata/v1/', 'name'],
    ['https://foo.local./cb', 'name'],
    ['https://printer.home.arpa/cb', 'name'],
    ['https://intranet./cb', 'name'],
    ['https://127.0.0.1./cb', 'loopback'],
    ['https://0x7f.0.0.1./cb', 'loopback'],
    ['https://app.localtest.me/cb', 'loopback'],
    ['https://10.0.0.1.nip.io/cb', 'name'],
  ] as const)('refuses %s (%s)', (url, kind) => {
    const problem = callbackUrlProblem(url, false);
    expect(problem).toBeDefined();
    const expected = { loopback: /loopback/, private: /private, link-local or metadata/, name: /internal host name/ }[kind];
    expect(problem).toMatch(expected);
  });

  it.each([
    'https://hooks.example.com/jobs',
    'https://hooks.example.com./jobs',
    'https://HOOKS.Example.COM/jobs',
    'https://203.0.113.7/jobs',
    'https://3405803783/jobs',
    'https://[2606:4700:4700::1111]/jobs',
    'https://[::ffff:203.0.113.7]/jobs',
    'https://[64:ff9b::203.0.113.7]/jobs',
    'https://[2002:cb00:7107::1]/jobs',
    'https://local.example.com/jobs',
    'https://internal-tools.example.org/jobs',
  ])('allows the public %s', (url) => {
    expect(callbackUrlProblem(url, false)).toBeUndefined();
  });

  it('allows loopback http only with the dev setting, and never an internal address through a tunnel', () => {
    expect(callbackUrlProblem('http://127.0.0.1:9999/cb', true)).toBeUndefined();
    expect(callbackUrlProblem('http://localhost.:9999/cb', true)).toBeUndefined();
    expect(callbackUrlProblem('http://[::ffff:127.0.0.1]:9999/cb', true)).toBeUndefined();
    expect(callbackUrlProblem('http://127.0.0.1:9999/cb', false)).toBeDefined();
    expect(callbackUrlProblem('http://10.0.0.1/cb', true)).toBeDefined();
    expect(callbackUrlProblem('https://[2002:7f00:1::]/cb', true)).toMatch(/private/);
    expect(callbackUrlProblem('https://[64:ff9b::7f00:1]/cb', true)).toMatch(/private/);
  });
});

describe('backoffSeconds', () => {
  it('doubles per attempt with jitter in the upper half, capped at an hour', () => {
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 30, () => 0))).toEqual([15, 30, 60, 120]);
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 30, () => 1))).toEqual([30, 60, 120, 240]);
    expect(backoffSeconds(30, 30, () => 1)).toBe(3600);
  });
});
