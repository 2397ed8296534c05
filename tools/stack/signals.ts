/**
 * Wrangler (imported as a library) and Miniflare each install SIGINT/SIGTERM handlers that exit the
 * process at once. A process that handles those signals itself (`npm start` stops every component,
 * then exits) must keep that to itself, or the exit orphans the components not yet stopped.
 */

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Runs `start`; for each signal the process already handled before, removes the handlers `start`
 * added. A process without its own handlers keeps the libraries' (they still stop workerd on exit).
 */
export async function keepingOwnSignalHandlers<T>(start: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((sig) => [sig, process.listeners(sig)]));
  try {
    return await start();
  } finally {
    for (const [sig, owners] of before) {
      if (owners.length === 0) continue;
      for (const handler of process.listeners(sig)) if (!owners.includes(handler)) process.removeListener(sig, handler);
    }
  }
}
