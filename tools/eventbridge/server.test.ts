/**
 * The local EventBridge stand-in against the real AWS SDK client (`@aws-sdk/client-eventbridge`):
 * PutEvents is accepted over the JSON 1.1 protocol with SigV4 (service `events`), entries are
 * validated one by one as EventBridge does, a wrong signature or key is refused, the admin routes
 * list what arrived and need the token, and the fault knobs make the SDK see an outage.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEventBridgeStandIn, type EventBridgeStandIn } from './server';
import type { BusEvent } from './put-events';

const credentials = { accessKeyId: 'AKIAEVENTSTEST', secretAccessKey: 'events-test-secret' };
const adminToken = 'events-admin-token';
const BUS = 'inference-gateway-test-events';
let bus: EventBridgeStandIn;

beforeAll(async () => {
  bus = await startEventBridgeStandIn({ port: 0, region: 'us-east-1', credentials: [credentials], adminToken, buses: [BUS], account: '123456789012' });
});
afterAll(async () => bus?.close());
beforeEach(async () => {
  await admin('PUT', '/admin/config', { fault: null, delayMs: 0 });
});

const client = (secretAccessKey = credentials.secretAccessKey, accessKeyId = credentials.accessKeyId) =>
  new EventBridgeClient({ region: 'us-east-1', endpoint: bus.url, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });

async function admin(method: string, path: string, body?: unknown, token = adminToken): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${bus.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}

const entry = (over: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry => ({
  Source: 'inference-gateway.webhook.test',
  DetailType: 'invoice.paid',
  Detail: JSON.stringify({ webhook_id: `wh_${crypto.randomUUID()}`, amount: 42 }),
  EventBusName: BUS,
  ...over,
});

describe('PutEvents through the AWS SDK', () => {
  it('accepts signed entries, answers an EventId each, and lists them as rule targets see them', async () => {
    const detailType = `accepted.${crypto.randomUUID()}`;
    const time = new Date('2026-03-04T05:06:07Z');
    const out = await client().send(new PutEventsCommand({ Entries: [entry({ DetailType: detailType, Time: time }), entry({ DetailType: detailType })] }));
    expect(out.FailedEntryCount).toBe(0);
    expect(out.Entries).toHaveLength(2);
    for (const e of out.Entries ?? []) expect(e.EventId).toMatch(/^[0-9a-f-]{36}$/);

    const listed = (await admin('GET', `/admin/events?detail-type=${detailType}`)).json as BusEvent[];
    expect(listed.map((e) => e.id)).toEqual(out.Entries?.map((e) => e.EventId));
    expect(listed[0]).toMatchObject({
      version: '0',
      source: 'inference-gateway.webhook.test',
      'detail-type': detailType,
      account: '123456789012',
      region: 'us-east-1',
      time: '2026-03-04T05:06:07Z',
      resources: [],
      detail: { amount: 42 },
      'event-bus-name': BUS,
    });
  });

  it('fails bad entries alone, with the entry-level codes EventBridge uses', async () => {
    const detailType = `mixed.${crypto.randomUUID()}`;
    const out = await client().send(
      new PutEventsCommand({
        Entries: [
          entry({ DetailType: detailType }),
          entry({ DetailType: detailType, Detail: '{not json' }),
          entry({ DetailType: detailType, Detail: '[1,2]' }),
          entry({ DetailType: detailType, Source: undefined }),
          entry({ DetailType: detailType, Source: 'aws.s3' }),
          entry({ DetailType: detailType, EventBusName: 'no-such-bus' }),
          entry({ DetailType: detailType, EventBusName: `arn:aws:events:us-east-1:123456789012:event-bus/${BUS}` }),
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(5);
    expect(out.Entries?.map((e) => e.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'MalformedDetail',
      'MalformedDetail',
      'InvalidArgument',
      'NotAuthorizedForSourceException',
      'ResourceNotFoundException',
      'ok',
    ]);
    expect(out.Entries?.[3]?.ErrorMessage).toBe('Parameter Source is not valid. Reason: Source is a required argument.');
    expect(((await admin('GET', `/admin/events?detail-type=${detailType}`)).json as BusEvent[]).length).toBe(2);
  });

  it('refuses a request EventBridge refuses whole: more than 10 entries, over 256 KB', async () => {
    const eleven = Array.from({ length: 11 }, () => entry());
    await expect(client().send(new PutEventsCommand({ Entries: eleven }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    const big = entry({ Detail: JSON.stringify({ blob: 'x'.repeat(256 * 1024) }) });
    await expect(client().send(new PutEventsCommand({ Entries: [big] }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
  });

  it('refuses a wrong secret, an unknown key and a tampered body, and stores nothing', async () => {
    const before = bus.stats();
    await expect(client('wrong-secret').send(new PutEventsCommand({ Entries: [entry()] }))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(client(credentials.secretAccessKey, 'AKIANOBODY').send(new PutEventsCommand({ Entries: [entry()] }))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    const signer = new AwsClient({ ...credentials, service: 'events', region: 'us-east-1', retries: 0 });
    const body = JSON.stringify({ Entries: [entry()] });
    const signed = await signer.sign(`${bus.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body,
    });
    const tampered = await fetch(signed.url, { method: 'POST', headers: signed.headers, body: body.replace('42', '43') });
    expect(tampered.status).toBe(403);
    const wrongService = new AwsClient({ ...credentials, service: 'monitoring', region: 'us-east-1', retries: 0 });
    const other = await wrongService.fetch(`${bus.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body,
    });
    expect(other.status).toBe(403);
    expect(((await other.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
    const after = bus.stats();
    expect(after.acceptedEntries).toBe(before.acceptedEntries);
    expect(after.rejectedRequests - before.rejectedRequests).toBe(4);
  });

  it('speaks only PutEvents in JSON 1.1', async () => {
    const signer = new AwsClient({ ...credentials, service: 'events', region: 'us-east-1', retries: 0 });
    const body = JSON.stringify({ Entries: [entry()] });
    const wrongTarget = await signer.fetch(`${bus.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.ListRules' },
      body,
    });
    expect(wrongTarget.status).toBe(400);
    expect(wrongTarget.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    const wrongType = await signer.fetch(`${bus.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-amz-target': 'AWSEvents.PutEvents' },
      body,
    });
    expect(wrongType.status).toBe(400);
  });
});

describe('admin routes and fault knobs', () => {
  it('need the bearer token', async () => {
    expect((await admin('GET', '/admin/events', undefined, 'nope')).status).toBe(401);
    expect((await admin('PUT', '/admin/config', { fault: 'unavailable' }, 'nope')).status).toBe(401);
    expect((await admin('GET', '/admin/config')).json).toEqual({ fault: null, delayMs: 0 });
  });

  it('reject unknown faults and settings, naming the field', async () => {
    expect(await admin('PUT', '/admin/config', { fault: 'down' })).toMatchObject({ status: 400, json: { message: expect.stringContaining('fault must be') } });
    expect(await admin('PUT', '/admin/config', { delay: 5 })).toMatchObject({
      status: 400,
      json: { message: expect.stringContaining("unknown setting 'delay'") },
    });
  });

  it('rehearse a bus outage: unavailable, throttled, failed entries, then recovery', async () => {
    const detailType = `outage.${crypto.randomUUID()}`;
    const send = () => client().send(new PutEventsCommand({ Entries: [entry({ DetailType: detailType })] }));
    await admin('PUT', '/admin/config', { fault: 'unavailable' });
    await expect(send()).rejects.toMatchObject({ $fault: 'server', $metadata: { httpStatusCode: 503 } });
    await admin('PUT', '/admin/config', { fault: 'throttled' });
    await expect(send()).rejects.toMatchObject({ name: 'ThrottlingException' });
    await admin('PUT', '/admin/config', { fault: 'failed-entries' });
    const partial = await send();
    expect(partial.FailedEntryCount).toBe(1);
    expect(partial.Entries?.[0]).toEqual({ ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure.' });
    expect(((await admin('GET', `/admin/events?detail-type=${detailType}`)).json as BusEvent[]).length).toBe(0);
    await admin('PUT', '/admin/config', { fault: null });
    expect((await send()).FailedEntryCount).toBe(0);
    expect(((await admin('GET', `/admin/events?detail-type=${detailType}`)).json as BusEvent[]).length).toBe(1);
  });

  it('delays answers by delayMs', async () => {
    await admin('PUT', '/admin/config', { delayMs: 300 });
    const started = performance.now();
    await client().send(new PutEventsCommand({ Entries: [entry()] }));
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    console.warn(`PutEvents with delayMs 300 took ${Math.round(took)} ms`);
  });
});
