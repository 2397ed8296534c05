/**
 * Entry of the operator CLI (`npm run gw -- <command>`): wires run.ts to the process. Everything
 * else, including every error message, lives in run.ts so tests can call it with injected IO.
 */
import { runCli } from './run';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
