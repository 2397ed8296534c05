/** Values the edge project's global setup (test/setup/edge-stack.ts) provides to tests via `inject`. */
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Worker bindings of the local stack (store, route table, AWS credentials). */
    edgeVars: Record<string, string>;
    apiKey: string;
    tenantId: string;
    model: string;
    modelServerUrl: string;
    bridgeUrl: string;
    bridgeToken: string;
    /** The local metrics sink (CloudWatch PutMetricData stand-in): `/api/datapoints`, `/api/stats`, `GET /` dashboard. */
    metricsSinkUrl: string;
    /** Local JWKS server (test/setup/edge-stack.ts): any path serves the signing keys' public JWKS. */
    jwksServerUrl: string;
    /** Private JWKs (with `kid` and `alg`) of the keys that JWKS publishes: RS256 and ES256. */
    jwtSigningKeys: { rsa: Record<string, string>; ec: Record<string, string> };
    /** A second Upstash bridge on the stack's Redis (test/setup/outage-bridge.ts): fault knobs at `/admin/config`. */
    outageBridgeUrl: string;
    /** Its token (Redis requests and the knobs). */
    outageBridgeToken: string;
    /** Its stop/start admin server: `POST /stop`, `POST /start`. */
    outageBridgeAdminUrl: string;
    /** Local receiver (test/setup/webhook-receiver.ts): webhook forward target and callback URLs. */
    webhookReceiverUrl: string;
    /** Local image host (test/setup/image-host.ts): a PNG, a fake one, redirects, a slow and a huge one. */
    imageHostUrl: string;
    /** Local EventBridge stand-in (tools/eventbridge/server.ts) accepting the edge's credentials; bus `inference-gateway-local-events`. */
    eventBridgeUrl: string;
    /** Bearer token of its `/admin/*` routes (received events, fault knobs). */
    eventBridgeAdminToken: string;
    /** Secrets of the test webhook sources `ingest` (current, previous), `stripe`, `legacy`, and `jobs` (also `limited`'s). */
    webhookSecrets: { ingest: readonly [string, string]; stripe: string; legacy: string; jobs: string };
    /** The tenants of the job sources `jobs`, `limited` and `late` (test/setup/webhook-receiver.ts); tests write their records. */
    webhookTenants: { jobs: string; limited: string; late: string };
  }
}
