/** How the CLI prints an error: a user's or a peer's as one line and a hint, a bug with its stack. */
import { SrError } from '../core/errors.js';

/** `srv6pipes: MESSAGE [CODE]` and `  hint: HINT`: the two lines of every error that is not a bug. */
export function formatUserError(e: SrError): string {
  return `srv6pipes: ${e.message} [${e.code}]\n  hint: ${e.hint}\n`;
}

/** Prints `e`; the exit code: 2 for a user error, 1 for a peer's refusal (`input`, as netcat), 70 for a bug. */
export function printError(e: unknown): number {
  if (e instanceof SrError && e.kind !== 'bug') {
    process.stderr.write(formatUserError(e));
    return e.kind === 'user' ? 2 : 1;
  }
  process.stderr.write(`srv6pipes: internal error (a bug):\n${e instanceof Error ? e.stack : String(e)}\n`);
  return 70;
}
