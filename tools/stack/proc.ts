/**
 * What Linux's /proc says about the stack's processes: which children a process has (to find the
 * workerd that Miniflare spawns, which it does not expose) and how much CPU time a process has
 * used (user + system, from /proc/<pid>/stat). Elsewhere (no /proc) both answer nothing.
 */
import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc/<pid>/stat's times: USER_HZ, 100 on every Linux ABI Node runs on. */
const USER_HZ = 100;

interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  /** utime + stime, seconds. */
  readonly cpuSeconds: number;
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid …`: comm may contain spaces and parentheses, so split after the last ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (![ppid, utime, stime].every(Number.isFinite)) return undefined;
  return { pid, comm: text.slice(open + 1, close), ppid, cpuSeconds: (utime + stime) / USER_HZ };
}

/** Pids of the live children of `parent` whose command name is `comm` (e.g. `workerd`). */
export async function childPids(parent: number, comm: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const stats = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readStat(Number(e))));
  return stats.filter((s): s is ProcStat => s !== undefined && s.ppid === parent && s.comm === comm).map((s) => s.pid);
}

/** CPU seconds (user + system) `pid` has used so far; undefined when it is gone or there is no /proc. */
export async function cpuSeconds(pid: number): Promise<number | undefined> {
  return (await readStat(pid))?.cpuSeconds;
}
