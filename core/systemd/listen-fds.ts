// Sockets passed by systemd (sd_listen_fds(3)): LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, first fd 3.
//
//   tund.socket (Accept=yes)        -> tund-inetd@.service: one connected TCP socket, name "connection"
//   tund-listen@NAME.socket         -> tund@NAME.service: a listening TCP socket and/or a UDP socket,
//   (Accept=no)                        both named after FileDescriptorName= (default: the socket unit)
//
// A socket unit may carry both ListenStream= and ListenDatagram=, and both fds then have the same
// name, so the kind of each fd is found from the kernel instead: /proc/self/fd/N names the socket
// inode, and /proc/net/{tcp,tcp6,udp,udp6,unix} tell its protocol and whether a TCP one listens.
import fs from 'node:fs';

export const SD_LISTEN_FDS_START = 3;

export type PassedFdKind = 'tcp-listen' | 'tcp-connected' | 'udp' | 'unix' | 'unknown';

export interface PassedFd {
  fd: number;
  /** from LISTEN_FDNAMES (FileDescriptorName=), "connection" for Accept=yes, else "unknown" */
  name: string;
  kind: PassedFdKind;
  family: 4 | 6 | null;
}

function socketInode(fd: number): string | null {
  try {
    const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
    return m ? m[1]! : null;
  } catch {
    return null;
  }
}

/** inode -> {proto, state} from the /proc/net tables of our network namespace. */
function inetTable(file: string): Map<string, string> {
  const map = new Map<string, string>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return map;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9) map.set(f[9]!, f[3]!); // inode -> st (0A = LISTEN for TCP)
  }
  return map;
}

export function classifyFd(fd: number): { kind: PassedFdKind; family: 4 | 6 | null } {
  const inode = socketInode(fd);
  if (!inode) return { kind: 'unknown', family: null };
  for (const [file, proto, family] of [
    ['/proc/net/tcp', 'tcp', 4],
    ['/proc/net/tcp6', 'tcp', 6],
    ['/proc/net/udp', 'udp', 4],
    ['/proc/net/udp6', 'udp', 6],
  ] as const) {
    const st = inetTable(file).get(inode);
    if (st === undefined) continue;
    if (proto === 'udp') return { kind: 'udp', family };
    return { kind: st === '0A' ? 'tcp-listen' : 'tcp-connected', family };
  }
  try {
    const unix = fs.readFileSync('/proc/net/unix', 'utf8');
    if (unix.split('\n').some((l) => l.trim().split(/\s+/)[6] === inode)) return { kind: 'unix', family: null };
  } catch {
    /* no procfs */
  }
  return { kind: 'unknown', family: null };
}

export interface ListenFdsOptions {
  env?: NodeJS.ProcessEnv;
  pid?: number;
  /** remove LISTEN_* from the environment so that children (ip, hooks) do not see them (default true) */
  unsetEnvironment?: boolean;
}

/** The fds systemd passed to this process (empty when none, or when they were meant for another PID). */
export function listenFds(options: ListenFdsOptions = {}): PassedFd[] {
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const count = Number(env.LISTEN_FDS ?? '0');
  const forPid = env.LISTEN_PID;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  if (options.unsetEnvironment !== false) {
    delete env.LISTEN_FDS;
    delete env.LISTEN_PID;
    delete env.LISTEN_FDNAMES;
  }
  if (!Number.isInteger(count) || count <= 0) return [];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return [];
  const fds: PassedFd[] = [];
  for (let i = 0; i < count; i++) {
    const fd = SD_LISTEN_FDS_START + i;
    fds.push({ fd, name: names[i] || 'unknown', ...classifyFd(fd) });
  }
  return fds;
}
