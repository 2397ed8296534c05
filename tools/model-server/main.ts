/**
 * CLI for the reference model server (a stand-in for the GPU container, not a model):
 * `tsx tools/model-server/main.ts`. Env: MODEL_SERVER_PORT (default 8081), MODEL_SERVER_HOST
 * (default 127.0.0.1), MODEL_TTFT_MS, MODEL_PER_TOKEN_MS, MODEL_SERVER_LOG=1 (a line per request).
 * Prints one line with its URL; stops cleanly on SIGINT / SIGTERM.
 */
import { startModelServer } from './server';

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

const server = await startModelServer({
  host: process.env['MODEL_SERVER_HOST'] || '127.0.0.1',
  port: numberFromEnv('MODEL_SERVER_PORT', 8081),
  config: { ttftMs: numberFromEnv('MODEL_TTFT_MS', 0), perTokenMs: numberFromEnv('MODEL_PER_TOKEN_MS', 0) },
  log: process.env['MODEL_SERVER_LOG'] === '1' ? (line) => console.log(line) : undefined,
});
console.log(`reference model server (a stand-in for the GPU container, not a model) listening on ${server.url}`);

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`error while stopping on ${signal}:`, error);
      process.exit(1);
    },
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
