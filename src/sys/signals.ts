/** Daemon lifetimes: SIGHUP reloads, the first SIGTERM/SIGINT stops, later ones are only logged. */
import type { Logger } from 'pino';

/**
 * Resolves with the first SIGTERM or SIGINT. Until then SIGHUP calls `onHup`. Once stopping, further
 * stop signals are logged and ignored, so a second Ctrl-C cannot cut short the clean-up.
 */
export function untilStopSignal(log: Logger, onHup?: () => void): Promise<NodeJS.Signals> {
  if (onHup) process.on('SIGHUP', onHup);
  return new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (onHup) process.off('SIGHUP', onHup);
      const again = (s: NodeJS.Signals): void => log.warn({ signal: s }, 'already stopping');
      process.on('SIGTERM', again);
      process.on('SIGINT', again);
      resolve(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
