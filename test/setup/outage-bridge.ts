/**
 * A second Upstash bridge in front of the stack's Redis for store outage tests, so the stack's own
 * bridge stays healthy for every other test. Two ways to break it:
 * - its fault knobs, `PUT {url}/admin/config` with the bridge token and `{latencyMs?, fault?}`
 *   (tools/upstash-bridge/faults.ts): a stall, 503s, or dropped connections;
 * - this module's admin server: `POST /stop` (closes the bridge: connections refused), `POST /start`
 *   (listens again on the same port, knobs cleared) and `GET /` (`{running}`).
 */
import { createServer, type Server } from 'node:http';
import { tsImport } from 'tsx/esm/api';

type BridgeModule = typeof import('../../tools/upstash-bridge/server');

export interface OutageBridge {
  /** The bridge's URL (the same across stop/start); its fault knobs are at `/admin/config`. */
  readonly url: string;
  /** The token of the bridge and of its knobs (the stack's bridge token). */
  readonly token: string;
  /** The stop/start admin server's URL. */
  readonly adminUrl: string;
  close(): Promise<void>;
}

/** Starts the bridge (same token as the stack's) and its admin server, both on free ports. */
export async function startOutageBridge(redisUrl: string, token: string): Promise<OutageBridge> {
  const { startUpstashBridge } = (await tsImport('../../tools/upstash-bridge/server.ts', import.meta.url)) as BridgeModule;
  let bridge: Awaited<ReturnType<BridgeModule['startUpstashBridge']>> | undefined = await startUpstashBridge({ redisUrl, token, port: 0 });
  const port = bridge.port;
  const url = bridge.url;
  const admin: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    req.resume();
    void (async () => {
      try {
        if (req.method === 'POST' && req.url === '/stop' && bridge) {
          await bridge.close();
          bridge = undefined;
        } else if (req.method === 'POST' && req.url === '/start' && !bridge) {
          bridge = await startUpstashBridge({ redisUrl, token, port });
        }
        reply(200, { running: bridge !== undefined });
      } catch (err) {
        reply(500, { error: (err as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
  const address = admin.address();
  const adminPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url,
    token,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    close: async () => {
      await new Promise((resolve) => admin.close(resolve));
      await bridge?.close();
    },
  };
}
