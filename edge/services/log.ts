/**
 * Structured JSON logs for the edge: one line per event, always with the request id when there is
 * one. Callers pass fields, never raw errors: only an error's name and message are logged.
 *
 * Lines below the isolate's threshold (`LOG_LEVEL`, default `info`) are dropped before they are
 * built: a console line costs serialisation in the isolate and, where logs are collected, a paid
 * log event, so a flood of refused requests must not turn into a flood of lines.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, string | number | boolean | null | undefined>;

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

// Module-level on purpose: one threshold per isolate, set from the config when it is parsed.
let threshold = RANK.info;

/** Sets the lowest level that is written. */
export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

/** Writes one JSON log line, when `level` is at or above the threshold. */
export function log(level: LogLevel, message: string, fields: LogFields = {}): void {
  if (RANK[level] < threshold) return;
  const line = JSON.stringify({ level, message, time: new Date().toISOString(), ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/** The loggable part of an unknown thrown value: name and message, never a stack. */
export function describeError(err: unknown): { error_name: string; error_message: string } {
  if (err instanceof Error) return { error_name: err.name, error_message: err.message.slice(0, 500) };
  return { error_name: typeof err, error_message: String(err).slice(0, 500) };
}
