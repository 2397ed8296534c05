/**
 * Minute windows reset on the minute: a test whose requests must share one minute window waits,
 * when too little of the current minute is left, for the next one to begin.
 */
export async function withinOneMinute(msNeeded: number): Promise<void> {
  const msLeft = 60_000 - (Date.now() % 60_000);
  if (msLeft < msNeeded) await new Promise((resolve) => setTimeout(resolve, msLeft + 200));
}
