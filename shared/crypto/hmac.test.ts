/**
 * The signature schemes against independent implementations: the `standardwebhooks` package in both
 * directions, and Stripe's documented recipe written out with WebCrypto for the `t=,v1=` (Stripe) scheme; windows, rotation and tampering.
 */
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret, signStandardWebhook, signTimestampSignature, timingSafeEqual, verifyStandardWebhook, verifyTimestampSignature } from './hmac';

const enc = new TextEncoder();
const now = Math.floor(Date.now() / 1000);

describe('Standard Webhooks', () => {
  const secret = generateWebhookSecret();
  const body = '{"id":"evt_1","type":"t","payload":{"a":1}}';

  it('verifies what the standardwebhooks package signs, with several secrets and signatures', async () => {
    const signature = new Webhook(secret).sign('msg_1', new Date(now * 1000), body);
    const other = new Webhook(generateWebhookSecret()).sign('msg_1', new Date(now * 1000), body);
    const input = { id: 'msg_1', timestamp: String(now), signature: `${other} ${signature}`, body: enc.encode(body), nowSeconds: now };
    expect(await verifyStandardWebhook({ ...input, secrets: [generateWebhookSecret(), secret] })).toEqual({ ok: true, timestamp: now });
    expect(await verifyStandardWebhook({ ...input, secrets: [generateWebhookSecret()] })).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(await verifyStandardWebhook({ ...input, body: enc.encode(body.replace('1}', '2}')), secrets: [secret] })).toMatchObject({ ok: false });
    expect(await verifyStandardWebhook({ ...input, nowSeconds: now + 301, secrets: [secret] })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    expect(await verifyStandardWebhook({ ...input, nowSeconds: now - 301, secrets: [secret] })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    expect(await verifyStandardWebhook({ ...input, signature: 'v1,zz', secrets: [secret] })).toEqual({ ok: false, reason: 'malformed_header' });
  });

  it('signs so that the standardwebhooks package verifies, with either secret of a rotation', async () => {
    const previous = generateWebhookSecret();
    const headers = await signStandardWebhook([secret, previous], 'msg_2', now, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow();
  });
});

describe('t=,v1= (X-Signature, Stripe-Signature)', () => {
  const secret = `whsec_${crypto.randomUUID().replaceAll('-', '')}`;
  const body = '{"id":"evt_2"}';
  // Stripe's documented scheme written out with WebCrypto, apart from the code under test.
  const stripe = async (t: number, key = secret) => {
    const k = await crypto.subtle.importKey('raw', enc.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', k, enc.encode(`${t}.${body}`)));
    return `t=${t},v1=${Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('')},v0=deadbeef`;
  };

  it("verifies Stripe's documented scheme (node:crypto), with X-Timestamp, and refuses stale or forged ones", async () => {
    const base = { body: enc.encode(body), secrets: ['old-secret', secret], nowSeconds: now };
    expect(await verifyTimestampSignature({ ...base, header: await stripe(now) })).toEqual({ ok: true, timestamp: now });
    const v1Only = (await stripe(now)).split(',')[1]!;
    expect(await verifyTimestampSignature({ ...base, header: v1Only, timestampHeader: String(now) })).toEqual({ ok: true, timestamp: now });
    expect(await verifyTimestampSignature({ ...base, header: await stripe(now - 400) })).toEqual({ ok: false, reason: 'timestamp_out_of_window' });
    expect(await verifyTimestampSignature({ ...base, header: await stripe(now, 'wrong') })).toEqual({ ok: false, reason: 'no_matching_signature' });
    expect(await verifyTimestampSignature({ ...base, header: 'garbage' })).toEqual({ ok: false, reason: 'malformed_header' });
    expect(await verifyTimestampSignature({ ...base, header: undefined })).toEqual({ ok: false, reason: 'missing_header' });
    expect(await signTimestampSignature(secret, now, body)).toBe((await stripe(now)).replace(',v0=deadbeef', ''));
  });

  it('compares in constant time only equal-length inputs', () => {
    expect(timingSafeEqual(enc.encode('abc'), enc.encode('abc'))).toBe(true);
    expect(timingSafeEqual(enc.encode('abc'), enc.encode('abd'))).toBe(false);
    expect(timingSafeEqual(enc.encode('abc'), enc.encode('abcd'))).toBe(false);
  });
});
