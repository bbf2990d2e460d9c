// `tund serve`'s pre-started session processes. Starting Node and loading tund's modules takes a
// good part of a second on an idle machine and seconds on a loaded one (under a connection flood,
// say); a peer that named an existing session should not wait for it. So the listener keeps one
// session process started ahead of need, the spare (`tund serve --pre-started`: past start-up,
// waiting on fd 3), hands it the next identified peer's connection and starts the next spare
// right away. As before, a process is started per identified peer, never per connection: an idle,
// unknown or excess connection still costs none. At most one spare exists; it dies with the
// listener (SIGTERM when it stops, end of stream on fd 3 when it is killed). Each session process
// is in a process group of its own and gets one SIGTERM from the listener when it stops or exits.
//
// fd 3 of a session process is one end of a SOCK_SEQPACKET pair, one message at a time:
//   process -> listener   "ready"              past start-up (log; the crash back-off)
//   listener -> process   {"host","session",   with the connection's fd attached (SCM_RIGHTS): the
//                          "leftMs"}           peer's HOST, the session it picks, the handshake time left
//   process -> listener   "over"               its handshake is over: the connection's place in
//                                              the HandshakeGate is given back (so is it when the
//                                              process goes)
import { spawn, type ChildProcess } from 'node:child_process';
import { native } from '../../native/index.js';
import { TundError, hintOf, logProblem } from '../errors.js';
import { ExitCode } from '../exit.js';
import { StreamSocket } from '../socket.js';

/** The fd on which a session process talks with its listener. */
const CHANNEL_FD = 3;
const READY = 'ready';
const OVER = 'over';
/** Longest wait for a message (the bound of the timer only: end of stream ends every wait). */
const FOREVER_MS = 2 ** 31 - 1;
/** How long stopping session processes may take before they are killed. */
const STOP_MS = 5000;
/** A spare that ends sooner than this after its start, without a connection, counts as a crash. */
const QUICK_END_MS = 10_000;
/** The restart delay after repeated quick ends doubles from this, up to the maximum. */
const RESTART_FIRST_MS = 500;
const RESTART_MAX_MS = 60_000;

export interface PreStarterOptions {
  /** node's argv for a session process (after process.execPath) */
  args: string[];
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  verbose: boolean;
}

interface SessionProcess {
  process: ChildProcess;
  /** the listener's end of the process's fd 3 */
  channel: StreamSocket;
  startedAt: number;
  ready: boolean;
  /** the place of the connection it was handed; called once (handshake over, or the process gone) */
  release: (() => void) | null;
}

/** The listener's side: the spare, the processes it became, their restart and stop. */
export class PreStarter {
  private spare: SessionProcess | null = null;
  private readonly running = new Set<SessionProcess>();
  private quickEnds = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(private readonly o: PreStarterOptions) {}

  /** a failure the listener goes on after, with its hint (the house format) */
  private logFailure(message: string, error: unknown): void {
    logProblem((line) => this.o.log(line), 'serve', message, hintOf(error));
  }

  /** Starts the first spare. */
  start(): void {
    process.on('exit', this.onExit);
    this.startSpare();
  }

  /**
   * Gives the connection `fd` (ours until now; closed here in every case) of the peer whose HOST
   * picked `session` to the spare, or to a process started for it when there is none (the spare is
   * restarting after a crash), and starts the next spare. `release` gives the connection's place
   * back: when that process's handshake is over, or it goes.
   */
  handOver(fd: number, handed: Omit<HandedConnection, 'fd'>, peer: string, release: () => void): void {
    const addon = native();
    let target = this.spare;
    this.spare = null;
    try {
      if (!target || target.channel.closed) target = this.spawn();
    } catch (error) {
      this.logFailure(`cannot start a session process for ${peer}: ${(error as Error).message}`, error);
      addon.closeFd(fd);
      release();
      return;
    }
    target.release = release;
    const message = Buffer.from(JSON.stringify({ ...handed, leftMs: Math.max(1, Math.round(handed.leftMs)) }));
    try {
      if (addon.socketSendFd(target.channel.fd, message, fd) !== message.length) throw new Error('its channel is full');
      if (this.o.verbose) this.o.log(`serve: connection from ${peer} for "${handed.session}": pid ${target.process.pid} (${target.ready ? 'pre-started' : 'still starting'})`);
    } catch (error) {
      this.logFailure(`cannot hand the connection from ${peer} to pid ${target.process.pid}: ${(error as Error).message}`, error);
      target.process.kill('SIGTERM');
      this.giveBack(target);
    } finally {
      addon.closeFd(fd); // the process has its own copy (in flight until it reads the message)
    }
    if (this.restartTimer === null) this.startSpare();
  }

  /** SIGTERM to every session process (the spare too), SIGKILL to those still there after STOP_MS. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const all = [...this.running];
    for (const s of all) s.process.kill('SIGTERM');
    const gone = (s: SessionProcess) =>
      new Promise((resolve) => (s.process.exitCode !== null || s.process.signalCode !== null ? resolve(null) : s.process.once('exit', resolve)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(all.map(gone)), new Promise((resolve) => (timer = setTimeout(resolve, STOP_MS)))]);
    clearTimeout(timer);
    for (const s of this.running) s.process.kill('SIGKILL');
    process.off('exit', this.onExit);
  }

  /**
   * The listener exits without stop() (a second SIGTERM or SIGINT makes it exit at once; a
   * crash): each session process still gets its one SIGTERM and stops cleanly on its own.
   */
  private readonly onExit = (): void => {
    for (const s of this.running) s.process.kill('SIGTERM');
  };

  private startSpare(): void {
    if (this.stopping || this.spare) return;
    try {
      this.spare = this.spawn();
    } catch (error) {
      this.logFailure(`cannot pre-start a session process: ${(error as Error).message}`, error);
      this.scheduleRestart();
    }
  }

  private scheduleRestart(): void {
    if (this.stopping || this.restartTimer) return;
    const delay = this.quickEnds === 0 ? 0 : Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** (this.quickEnds - 1));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.startSpare();
    }, delay);
  }

  private spawn(): SessionProcess {
    const addon = native();
    const [ours, theirs] = addon.socketPair('seqpacket');
    let child: ChildProcess;
    try {
      // detached: a process group of its own, so that a signal to the listener's group (Ctrl-C
      // in a terminal, timeout(1), kill -- -PGID) reaches the listener only, which stops each
      // session process with one SIGTERM. A second signal makes a session exit at once, without
      // its clean stop (CONN_CLOSE, device, routes, hooks). (systemd stops the unit by its
      // cgroup: KillMode=mixed in tund-inetd.service, SIGTERM to the listener first.)
      child = spawn(process.execPath, this.o.args, { stdio: ['ignore', 'inherit', 'inherit', theirs], env: this.o.env, detached: true });
    } catch (error) {
      addon.closeFd(ours);
      throw error;
    } finally {
      addon.closeFd(theirs); // the child has its own copy
    }
    const s: SessionProcess = { process: child, channel: new StreamSocket(ours), startedAt: Date.now(), ready: false, release: null };
    this.running.add(s);
    child.on('error', (error) => this.o.log(`serve: session process: ${error.message}`));
    child.on('exit', (code, signal) => this.ended(s, code, signal));
    void this.follow(s);
    return s;
  }

  /** Reads the process's messages until its end of stream. */
  private async follow(s: SessionProcess): Promise<void> {
    for (;;) {
      const message = await s.channel.read(64, FOREVER_MS).catch(() => null);
      if (!message || message.length === 0) break;
      const text = message.toString();
      if (text === READY) {
        s.ready = true;
        if (this.o.verbose && s === this.spare) this.o.log(`serve: session process pid ${s.process.pid} pre-started in ${Date.now() - s.startedAt} ms`);
      } else if (text === OVER) {
        this.giveBack(s);
      }
    }
    // the process closed fd 3 (after "over") or is going: its exit does the rest
    s.channel.close();
    this.giveBack(s);
  }

  private giveBack(s: SessionProcess): void {
    const release = s.release;
    s.release = null;
    release?.();
  }

  private ended(s: SessionProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.running.delete(s);
    s.channel.close();
    this.giveBack(s);
    if (s !== this.spare) return;
    this.spare = null;
    if (this.stopping) return;
    const quick = Date.now() - s.startedAt < QUICK_END_MS;
    this.quickEnds = quick ? this.quickEnds + 1 : 0;
    this.scheduleRestart();
    const how = signal ? `signal ${signal}` : `exit status ${code}`;
    const next = this.quickEnds === 0 ? 'starting another' : `the next in ${Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** (this.quickEnds - 1)) / 1000} s`;
    this.o.log(`serve: pre-started session process pid ${s.process.pid} ended (${how}) before it had a connection; ${next}`);
  }
}

/** What a pre-started process is handed. */
export interface HandedConnection {
  fd: number;
  /** the peer's HOST line */
  host: string;
  /** the session (file) name it picked when the listener looked */
  session: string;
  /** the handshake's time left, ms */
  leftMs: number;
}

/**
 * (the session process) Tells the listener it is ready, then waits for its connection: null when
 * the listener went (end of stream) or we are stopped first.
 */
export async function awaitConnection(signal: AbortSignal): Promise<HandedConnection | null> {
  const addon = native();
  try {
    addon.setNonBlocking(CHANNEL_FD, true);
    addon.socketSend(CHANNEL_FD, Buffer.from(READY));
  } catch (error) {
    throw new TundError(`serve --pre-started: fd ${CHANNEL_FD} is not the channel of a "tund serve" listener (${(error as Error).message})`, {
      exitCode: ExitCode.usage,
    });
  }
  const message = await new Promise<{ data: Buffer; fd: number | null } | null>((resolve, reject) => {
    const finish = (result: { data: Buffer; fd: number | null } | null, error?: Error) => {
      watcher.close();
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(result);
    };
    const onAbort = () => finish(null);
    const watcher = new addon.FdWatcher(CHANNEL_FD, (readable, _writable, error) => {
      if (!readable && !error) return;
      try {
        const got = addon.socketRecvFd(CHANNEL_FD, 4096);
        if (got === null) return;
        finish(got.data.length === 0 ? null : got);
      } catch (failure) {
        finish(null, failure as Error);
      }
    });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) finish(null);
    else watcher.start(true, false);
  });
  if (!message) return null;
  let handed: unknown = null;
  try {
    handed = JSON.parse(message.data.toString());
  } catch {
    // below
  }
  const h = handed as Partial<HandedConnection> | null;
  if (message.fd === null || typeof h?.host !== 'string' || typeof h.session !== 'string' || typeof h.leftMs !== 'number') {
    if (message.fd !== null) addon.closeFd(message.fd);
    throw new TundError(`serve --pre-started: the listener's message is not a connection: "${message.data.toString().slice(0, 80)}"`);
  }
  return { fd: message.fd, host: h.host, session: h.session, leftMs: h.leftMs };
}

let told = false;

/** (the session process) Its handshake is over: the listener gives the connection's place back. */
export function tellHandshakeOver(): void {
  if (told) return; // fd 3 is closed: its number may belong to something else by now
  told = true;
  const addon = native();
  try {
    addon.socketSend(CHANNEL_FD, Buffer.from(OVER));
    addon.closeFd(CHANNEL_FD);
  } catch {
    // told already, or the listener went
  }
}
