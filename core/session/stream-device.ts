// VTun's byte-stream tunnel types (docs/vtun-protocol.md §6.1): `pipe` and `tty`. After OK FLAGS the
// session gets a socketpair (pipe) or a pseudo-terminal (tty); the native pump moves byte chunks
// between our end (the socketpair end / the pty master) and the VTun frames, and the [Device]
// Program runs with `/bin/sh -c` with its stdin and stdout on the other end (pipe) or on the pty
// slave, which is also its controlling terminal (tty, through `setsid -c`), like a vtund
// `program` up-command. The program ending ends the session (the pump reads EOF/EIO once the
// buffered bytes are sent; a program whose children keep the fd open is given a short grace);
// the link ending stops the program (SIGTERM to its process group, SIGKILL after a few seconds).
//
// Differences from vtund, on purpose: tund puts its pty in raw mode before the program starts
// (vtund leaves the default cooked mode, so programs there must run `stty raw -echo` first);
// the program's stderr is tund's stderr (vtund sends it to /dev/null).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { SessionConfig } from '../config/types.js';
import { TundError } from '../errors.js';
import { ExitCode } from '../exit.js';
import { native, type NativeAddon } from '../../native/index.js';
import type { DeviceInfo } from '../status/types.js';
import type { Address } from '../socket.js';
import type { LinkEnd } from './protocol.js';

export type StreamKind = 'pipe' | 'tty';

export const SETSID = '/usr/bin/setsid';
/** how long a program that has exited gets for the pump to drain its output before the link is closed */
export const DRAIN_GRACE_MS = 3000;
/** after EOF/EIO on the device: how long to wait for the program's exit status */
export const EXIT_WAIT_MS = 1000;
/** SIGTERM -> SIGKILL */
export const KILL_GRACE_MS = 3000;

export interface StreamDeviceOptions {
  /** the addon (tests may pass a stand-in) */
  addon?: Pick<NativeAddon, 'socketPair' | 'openPty' | 'closeFd'>;
  /** spawn (test seam) */
  spawn?: typeof spawn;
  /** the setsid(1) binary used for tty programs */
  setsid?: string;
}

export interface ProgramExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function describeExit(e: ProgramExit): string {
  return e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code ?? 'unknown'}`;
}

/** The program command the session runs: from the config, or a clear error. */
export function programFor(config: SessionConfig, kind: StreamKind): string {
  const program = config.device.program;
  if (program === null || program.trim() === '') {
    throw new TundError(`the server asked for a VTun ${kind} session, but this config has no [Device] Program`, {
      exitCode: ExitCode.badConfig,
      hint: `set "Mode = ${kind}" and "Program = COMMAND" in [Device] of ${config.file} (the command whose stdin/stdout carry the data), or make the server use tun/ether`,
    });
  }
  return program;
}

/**
 * One pipe or tty device: the fd the pump uses, the other end (or the slave's path) for the
 * program, and the program once started. `closed` becomes true when the link is over: a stream
 * device is never reused for another connection (the program dies with its link).
 */
export class StreamDevice {
  readonly kind: StreamKind;
  /** TUND_DEVICE and status ifname: the pty slave's path, or "pipe" */
  readonly name: string;
  /** our end: socketpair end or pty master (the pump's device fd) */
  readonly fd: number;
  private otherFd: number | null;
  private child: ChildProcess | null = null;
  private exited: Promise<ProgramExit> | null = null;
  private exit: ProgramExit | null = null;
  private _closed = false;
  private readonly addon: Pick<NativeAddon, 'socketPair' | 'openPty' | 'closeFd'>;
  private readonly spawnFn: typeof spawn;
  private readonly setsid: string;

  private constructor(kind: StreamKind, fd: number, otherFd: number | null, name: string, o: StreamDeviceOptions) {
    this.kind = kind;
    this.fd = fd;
    this.otherFd = otherFd;
    this.name = name;
    this.addon = o.addon ?? native();
    this.spawnFn = o.spawn ?? spawn;
    this.setsid = o.setsid ?? SETSID;
  }

  static open(kind: StreamKind, o: StreamDeviceOptions = {}): StreamDevice {
    const addon = o.addon ?? native();
    if (kind === 'pipe') {
      const [ours, theirs] = addon.socketPair('stream');
      return new StreamDevice('pipe', ours, theirs, 'pipe', { ...o, addon });
    }
    let pty: { master: number; slavePath: string };
    try {
      pty = addon.openPty(true);
    } catch (error) {
      throw new TundError(`cannot open a pseudo-terminal: ${(error as Error).message}`, {
        hint: 'is /dev/pts mounted (devpts) and /dev/ptmx present?',
        cause: error,
      });
    }
    return new StreamDevice('tty', pty.master, null, pty.slavePath, { ...o, addon });
  }

  get closed(): boolean {
    return this._closed;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** What the program did, once it has ended; null while it runs (or never ran). */
  get programExit(): ProgramExit | null {
    return this.exit;
  }

  info(): DeviceInfo {
    return { ifname: this.name, kind: this.kind, mtu: null, multi_queue: false, persist: false };
  }

  /**
   * Starts `/bin/sh -c COMMAND` on the other end. Resolves once spawned; `onExit` runs when the
   * program has ended. Throws a TundError when it cannot be started.
   */
  async start(command: string, env: Record<string, string>, onExit: (exit: ProgramExit) => void): Promise<number> {
    if (this.child) throw new Error('internal error: the program was already started');
    if (this._closed) throw new Error('internal error: the device is closed');
    let stdioFd: number;
    let file: string;
    let args: string[];
    if (this.kind === 'pipe') {
      stdioFd = this.otherFd!;
      file = '/bin/sh';
      args = ['-c', command];
    } else {
      // O_NOCTTY: the slave must not become *our* controlling terminal; `setsid -c` makes it the
      // program's (new session, TIOCSCTTY on stdin).
      try {
        stdioFd = fs.openSync(this.name, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
      } catch (error) {
        throw new TundError(`cannot open the pseudo-terminal ${this.name}: ${(error as Error).message}`, { cause: error });
      }
      file = this.setsid;
      args = ['-c', '/bin/sh', '-c', command];
    }
    let child: ChildProcess;
    try {
      child = this.spawnFn(file, args, {
        stdio: [stdioFd, stdioFd, 'inherit'],
        env: { ...env, LC_ALL: env.LC_ALL ?? 'C' },
        // pipe: a new session (own process group, killed as a whole); tty: setsid(1) does it,
        // and must not fork, so the child must not be a process-group leader already
        detached: this.kind === 'pipe',
      });
    } finally {
      // the program holds its own copies now: EOF/EIO reaches the pump when it (and its
      // children) are gone
      if (this.kind === 'pipe') {
        this.safeClose(this.otherFd!);
        this.otherFd = null;
      } else {
        try {
          fs.closeSync(stdioFd);
        } catch {
          // already closed
        }
      }
    }
    this.child = child;
    this.exited = new Promise<ProgramExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
        onExit(this.exit);
      });
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error) => {
        this.exit = { code: 127, signal: null };
        reject(new TundError(`cannot start the program: ${error.message}`, { cause: error }));
      });
    });
    return child.pid!;
  }

  /** Resolves when the program has ended or after ms, whichever comes first. */
  async waitExit(ms: number): Promise<void> {
    if (!this.exited || this.exit) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.exited, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
    clearTimeout(t);
  }

  /** Ends the program (SIGTERM to its process group, SIGKILL after killMs), waits for it, closes the fds. */
  async stop(killMs = KILL_GRACE_MS): Promise<ProgramExit | null> {
    const child = this.child;
    if (child && this.exited && !this.exit) {
      this.signal('SIGTERM');
      const t = setTimeout(() => this.signal('SIGKILL'), killMs);
      await this.exited;
      clearTimeout(t);
    }
    this.closeFds();
    return this.exit;
  }

  /** Synchronous close (a session that gives up): fds closed, a running program told to stop. */
  close(): void {
    if (this.child && !this.exit) {
      this.signal('SIGTERM');
      const t = setTimeout(() => this.signal('SIGKILL'), KILL_GRACE_MS);
      t.unref();
      void this.exited?.then(() => clearTimeout(t));
    }
    this.closeFds();
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (!pid || this.exit) return;
    try {
      process.kill(-pid, sig); // its process group (a new session)
    } catch {
      try {
        process.kill(pid, sig); // not a group leader (yet)
      } catch {
        // gone
      }
    }
  }

  private closeFds(): void {
    if (this._closed) return;
    this._closed = true;
    this.safeClose(this.fd);
    if (this.otherFd !== null) this.safeClose(this.otherFd);
    this.otherFd = null;
  }

  private safeClose(fd: number): void {
    try {
      this.addon.closeFd(fd);
    } catch {
      // already closed
    }
  }
}

/** The environment of the program: the hooks' variables plus the transport's addresses. */
export function programEnv(base: Record<string, string>, local: Address | null, remote: Address | null): Record<string, string> {
  const env: Record<string, string> = { ...base };
  if (local) {
    env.TUND_LOCAL_ADDR = local.address;
    env.TUND_LOCAL_PORT = String(local.port);
  }
  if (remote) {
    env.TUND_REMOTE_ADDR = remote.address;
    env.TUND_REMOTE_PORT = String(remote.port);
  }
  return env;
}

export interface RunningProgram {
  /** after the link ended: stop the program and close the device; returns the end to report */
  finish(end: LinkEnd): Promise<LinkEnd>;
}

/**
 * Starts the session's program on a stream device and ties it to the link: the program ending
 * closes the link (after DRAIN_GRACE_MS if the pump has not seen EOF by then); `finish` stops
 * the program once the link is over. Returns null for tun/tap devices.
 */
export async function startStreamProgram(
  device: unknown,
  config: SessionConfig,
  env: Record<string, string>,
  link: { close(reason?: string): Promise<void>; readonly ended: Promise<LinkEnd> },
  log: (line: string) => void,
  drainMs = DRAIN_GRACE_MS,
): Promise<RunningProgram | null> {
  if (!(device instanceof StreamDevice)) return null;
  const command = programFor(config, device.kind);
  let linkOver = false;
  void link.ended.then(() => (linkOver = true));
  let drain: NodeJS.Timeout | null = null;
  const onExit = (exit: ProgramExit) => {
    log(`program ${describeExit(exit)}`);
    if (linkOver) return;
    drain = setTimeout(() => void link.close(`program ${describeExit(exit)}`), drainMs);
  };
  try {
    const pid = await device.start(command, env, onExit);
    log(`${device.kind}: started program (pid ${pid}) on ${device.name}: ${command}`);
  } catch (error) {
    log((error as Error).message);
    await link.close('the program could not be started');
  }
  return {
    async finish(end: LinkEnd): Promise<LinkEnd> {
      if (drain) clearTimeout(drain);
      // the pump saw EOF (socketpair) or EIO (pty master): the program is ending on its own, and
      // its exit status may not have arrived yet
      if (end.reason === 'device_error' && !device.programExit) await device.waitExit(EXIT_WAIT_MS);
      const stopping = !device.programExit;
      const exit = await device.stop();
      if (stopping && exit) log(`program stopped (${describeExit(exit)})`);
      if (stopping || exit === null) return end;
      // the program's end ended the link (EOF/EIO, or closed after the drain grace)
      if (end.reason === 'device_error' || end.reason === 'stopped') {
        return { reason: 'device_error', message: `program ${describeExit(exit)}`, clean: exit.code === 0 && !exit.signal };
      }
      return end;
    },
  };
}
