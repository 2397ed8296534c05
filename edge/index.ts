/** The Worker entry: the app with its production dependencies, and the queue consumer (edge/queues/). */
import { createApp } from './app';
import type { Bindings } from './env';
import { createQueueHandler } from './queues/consumer';

const app = createApp();

export default { fetch: app.fetch, queue: createQueueHandler() } satisfies ExportedHandler<Bindings, unknown>;
