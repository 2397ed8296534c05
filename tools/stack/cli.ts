/**
 * `npm start`: the whole stack on this machine with no cloud account, the edge served as the deploy
 * bundle in workerd. `npm run dev:edge` (`--dev`): the same stack with the edge in `wrangler dev`,
 * which rebuilds and reloads it on every edit. Prints a progress line per component, then the dev
 * tenant's API key and a working curl; writes .local/stack.json. EDGE_LOCATIONS and STORE_LATENCY_MS
 * pick a scenario. Ctrl-C (SIGINT) or SIGTERM stops every component; a component that fails to
 * start stops the others and exits non-zero with its name.
 */
import { join } from 'node:path';
import { ComponentStartError } from './child';
import { DEMO_BUS_TYPES, DEMO_JOB_TYPE } from './edge-env';
import { portsFromEnv, REPO_ROOT, scenarioFromEnv, startStack, type Stack } from './stack';

const verbose = process.env.STACK_VERBOSE === '1';
// The SDK warns that its 2027 releases need Node 22 (the Lambda runtime); locally the adapters run on this Node.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const stateDir = process.env.STACK_STATE_DIR || join(REPO_ROOT, '.local');
const dev = process.argv.includes('--dev');

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

async function main(): Promise<void> {
  console.log('Starting the local stack (Redis → Upstash bridge → model server → metrics sink → EventBridge stand-in → Lambda host → edge)…');
  let stack: Stack | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping every component…`);
    await stack?.stop();
    console.log('stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    stack = await startStack({
      ports: portsFromEnv(),
      scenario: scenarioFromEnv(),
      edgeRuntime: dev ? 'wrangler-dev' : 'workerd',
      stateDir,
      progress: (line) => console.log(`  ✓ ${line}`),
      log: (component, line) => {
        if (verbose || noteworthy(line)) console.log(`  [${component}] ${line}`);
      },
    });
  } catch (err) {
    const name = err instanceof ComponentStartError ? err.component : 'stack';
    console.error(`\n✗ ${name} failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  if (stopping) return;

  const body = JSON.stringify({ model: stack.model, prompt: 'Write a haiku about GPUs.', params: { max_tokens: 24 } });
  console.log(`
The gateway is up at ${stack.gatewayUrl}${where(stack)}

  Dev tenant:  ${stack.tenantId}
  API key:     ${stack.apiKey}   (shown once; only its hash is stored)
  Model:       ${stack.model}
  Dashboard:   ${stack.dashboardUrl}   (local metrics: latency p50/p95/p99, errors, cache, limits, tokens)

Try it:

  curl -sS ${stack.gatewayUrl}/v1/infer \\
    -H ${shellQuote(`Authorization: Bearer ${stack.apiKey}`)} \\
    -H 'Content-Type: application/json' \\
    -d ${shellQuote(body)}

Send a signed webhook (source ${stack.webhook.source}, Standard Webhooks, a fresh secret each start): it becomes a job of ${stack.tenantId}

  npm run gw -- webhook send --source ${stack.webhook.source} --type ${DEMO_JOB_TYPE} --payload ${shellQuote(JSON.stringify({ text: 'Queues decouple senders from the work they trigger, so a burst of events waits instead of failing.' }))} --wait

  Type ${DEMO_BUS_TYPES} goes to the local EventBridge bus instead; what reached it:
  curl -sS ${stack.eventBridge.url}/admin/events -H ${shellQuote(`Authorization: Bearer ${stack.eventBridge.adminToken}`)}

Operator:    npm run gw -- dlq list   (every tenant's dead letters, with this run's operator credential)

Component URLs, the key, the operator credential and the webhook secret are in ${join(stateDir, 'stack.json')}. STACK_VERBOSE=1 shows every component's log.
Press Ctrl-C to stop everything.`);
}

/**
 * Lines shown without STACK_VERBOSE: warnings and errors. A JSON log line says its level (the edge
 * logs every refused request at info, "request failed"); any other line is judged by its words.
 */
function noteworthy(line: string): boolean {
  const level = /^\{"level":"(\w+)"/.exec(line)?.[1];
  if (level) return /^(warn|error|critical)$/i.test(level);
  return /error|warn|fail/i.test(line);
}

/** The other locations and the store's distance, when the scenario has them. */
function where(stack: Stack): string {
  const lines: string[] = [];
  if (stack.components.edges.length > 1) lines.push(`  Locations:   ${stack.components.edges.join('  ')}   (one isolate each, one store, one backend)`);
  if (stack.scenario.storeLatencyMs > 0) lines.push(`  Store:       +${stack.scenario.storeLatencyMs} ms on every store request (STORE_LATENCY_MS)`);
  if (dev) lines.push('  Edge:        wrangler dev: edits under edge/ and shared/ reload it');
  return lines.length ? `\n\n${lines.join('\n')}` : '';
}

void main();
