/**
 * Structured JSON logs for the edge: one line per event, always with the request id when there is
 * one. Callers pass fields, never raw errors: only an error's name and message are logged.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Writes one JSON log line. */
export function log(level: LogLevel, message: string, fields: LogFields = {}): void {
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
