/**
 * The bench's load generator, in its own process so that it never shares an event loop with the
 * components it measures (the model server and the Upstash bridge run in the bench's main process).
 * Forked by load.ts; receives {@link LoadJob}s over IPC, runs each with autocannon and answers with
 * every response's latency (autocannon's own per-response hrtime, in ms) and the status counts.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import type { LoadJob, LoadResult, RunnerMessage } from './load';

// autocannon's own `idReplacement` miscounts Content-Length when its ids grow; rewrite the body instead.
const runPrefix = randomBytes(6).toString('hex');
let nextId = 0;

function runJob(job: LoadJob): Promise<LoadResult> {
  const template = job.body;
  const unique = template?.includes('[<id>]') ?? false;
  return new Promise((resolve, reject) => {
    const samplesMs: number[] = [];
    const statuses: Record<string, number> = {};
    const instance = autocannon(
      {
        url: job.url,
        method: job.method,
        headers: job.headers,
        ...(job.body !== undefined ? { body: job.body } : {}),
        ...(unique && template !== undefined
          ? {
              requests: [
                {
                  method: job.method,
                  headers: job.headers,
                  body: template,
                  setupRequest: (req) => ({ ...req, body: template.replaceAll('[<id>]', `${runPrefix}-${nextId++}`) }),
                },
              ],
            }
          : {}),
        connections: job.connections,
        duration: job.durationSec,
        ...(job.overallRate ? { overallRate: job.overallRate } : {}),
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err);
        resolve({ samplesMs, statuses, sent: result.requests.sent, durationSec: result.duration, errors: result.errors, timeouts: result.timeouts });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      samplesMs.push(responseTimeMs);
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}

process.on('message', (message: RunnerMessage) => {
  if (message.type === 'exit') process.exit(0);
  runJob(message.job).then(
    (result) => process.send?.({ id: message.id, result }),
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
process.send?.({ ready: true });
