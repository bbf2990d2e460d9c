// What `tund NAME` and `tund serve` share: signal handling (SIGTERM/SIGINT -> orderly stop) and the
// reporter factory (sd_notify + control socket through SystemdReporter, else log lines only).
import { EventEmitter } from 'node:events';
import type { BaseCommand } from '../../core/cli/base.js';
import type { ReporterFactory, SessionContext } from '../../core/session/index.js';
import { LogReporter, type SessionReporter } from '../../core/status/types.js';
import { SystemdReporter } from '../../core/systemd/reporter.js';

export interface CommandSession {
  ctx: SessionContext;
  /** the signal that stopped us, if any */
  stoppedBy(): NodeJS.Signals | null;
  dispose(): void;
}

export function sessionContext(cmd: BaseCommand, options: { controlSocket: boolean }): CommandSession {
  const stderr = cmd.context.stderr;
  const log = (line: string) => stderr.write(`${line}\n`);
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stoppedBy) {
      // a second signal while stopping: give up at once
      log(`${cmd.programName}: ${sig} again: exiting now`);
      process.exit(1);
    }
    stoppedBy = sig;
    controller.abort();
    // If something still holds the event loop after an orderly stop, do not hang for ever.
    setTimeout(() => process.exit(process.exitCode ?? 0), 8000).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP must never kill a session (Node's default): the session re-reads its config
  const hangups = new EventEmitter();
  const onHangup = () => {
    if (hangups.listenerCount('hangup') === 0) log(`${cmd.programName}: SIGHUP ignored (nothing to reload)`);
    hangups.emit('hangup');
  };
  process.on('SIGHUP', onHangup);
  const reporterFactory: ReporterFactory = async (name: string, role: 'client' | 'server'): Promise<SessionReporter> => {
    try {
      return options.controlSocket ? await SystemdReporter.open(name, { role, log }) : new SystemdReporter(name, { role, log, socketPath: null });
    } catch (error) {
      log(`${name}: warning: no control socket (${(error as Error).message.split('\n')[0]}); status is only logged`);
      return new LogReporter(log);
    }
  };
  return {
    ctx: {
      log,
      echo: cmd.quiet ? undefined : (line: string) => cmd.echo(line),
      signal: controller.signal,
      reporterFactory,
      hangups,
    },
    stoppedBy: () => stoppedBy,
    dispose: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
    },
  };
}
