/**
 * The Worker entry. The isolate services (edge/services/isolate.ts says why each outlives a
 * request) are built once per isolate, here, and shared by the app and the queue consumer.
 */
import { createApp } from './app';
import type { Bindings } from './env';
import { createQueueHandler } from './queues/consumer';
import { isolateServices } from './services/isolate';

const services = isolateServices();
const app = createApp(services);

export default { fetch: app.fetch, queue: createQueueHandler(services) } satisfies ExportedHandler<Bindings, unknown>;
