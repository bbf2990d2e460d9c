// What a session process needs from its environment, for `tund NAME` and `tund serve`: signals
// (SIGTERM/SIGINT stop in order, a second one exits at once, SIGHUP reloads and never kills) and
// the reporter (sd_notify and the control socket through SystemdReporter, else log lines only),
// and memory given back once the session has settled.
import { EventEmitter } from 'node:events';
import { native } from '../../native/index.js';
import { hintOf, logProblem } from '../errors.js';
import { LogReporter, type SessionReporter } from '../status/types.js';
import { SystemdReporter } from '../systemd/reporter.js';
import type { ReporterFactory, SessionContext } from './session.js';

/** The command's side: where lines go and who we are. */
export interface ProcessIo {
  /** the program name for its own messages (tund) */
  programName: string;
  /** one line on stderr */
  log(line: string): void;
  /** `[#] ...` echo of system changes; undefined when quiet */
  echo?: ((line: string) => void) | undefined;
  /** a warning line (prefixed by the command) */
  warn(message: string): void;
}

export interface ProcessContext {
  ctx: SessionContext;
  /** the signal that stopped us, if any */
  stoppedBy(): NodeJS.Signals | null;
  dispose(): void;
}

/** How long an orderly stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 8000;
/** after the session settles: time for the first exchanges of a fresh link before the collection */
const SETTLE_MS = 200;

/**
 * A session process lives as long as its session, and start-up (the module loader, the
 * configuration, the device, the first handshake) leaves garbage in the V8 heap and in malloc's
 * arenas. V8's memory reducer would collect it only some 8 s after the allocations stop and keeps
 * the young generation at the size start-up grew it to; an idle session does not need to wait:
 * once it has settled (ctx.settled: ready, first link up), one memory-reducing collection and
 * malloc_trim (native/src/memory.cc), about 3 MiB of RSS less per process (docs/benchmark.md,
 * "Memory"). Calls close together make one collection; it runs on the event loop only, the
 * packet threads never wait for it.
 */
export function startupMemoryReleaser(release: () => void = () => native().releaseMemory(), delayMs = SETTLE_MS): () => void {
  let pending: NodeJS.Timeout | null = null;
  return () => {
    if (pending) return;
    pending = setTimeout(() => {
      pending = null;
      release();
    }, delayMs);
    pending.unref();
  };
}

export function processContext(io: ProcessIo, options: { controlSocket: boolean }): ProcessContext {
  const log = io.log;
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stoppedBy) {
      // a second signal while stopping: give up at once
      log(`${io.programName}: ${sig} again: exiting now`);
      process.exit(1);
    }
    stoppedBy = sig;
    controller.abort();
    // If something still holds the event loop after an orderly stop, do not hang for ever.
    setTimeout(() => process.exit(process.exitCode ?? 0), STOP_DEADLINE_MS).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGHUP must never kill a session (Node's default): the session reloads
  const hangups = new EventEmitter();
  const onHangup = () => {
    if (hangups.listenerCount('hangup') === 0) log(`${io.programName}: SIGHUP ignored (nothing to reload)`);
    hangups.emit('hangup');
  };
  process.on('SIGHUP', onHangup);
  const reporterFactory: ReporterFactory = async (name: string, role: 'client' | 'server'): Promise<SessionReporter> => {
    try {
      return options.controlSocket ? await SystemdReporter.open(name, { role, log }) : new SystemdReporter(name, { role, log, socketPath: null });
    } catch (error) {
      logProblem(log, name, `warning: no control socket (${(error as Error).message.split('\n')[0]}); status is only logged`, hintOf(error));
      return new LogReporter(log);
    }
  };
  return {
    ctx: { log, echo: io.echo, signal: controller.signal, reporterFactory, hangups, settled: startupMemoryReleaser() },
    stoppedBy: () => stoppedBy,
    dispose: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
    },
  };
}
