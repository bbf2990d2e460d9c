// What a running session may still do as root (tund(8) CAPABILITIES). Once `tund NAME` has read its
// files and knows its sockets, it keeps only the capabilities the running session needs:
//   CAP_NET_ADMIN         the device (TUNSETIFF when a link reopens it), addresses, routes, rules
//                         and DNS (ip and tunroute, which inherit it), on every reconnect;
//   CAP_NET_BIND_SERVICE  only for a server that binds a port below 1024 itself.
// Everything else (reading any file, ptrace, mounting, module loading, ...) is gone from the
// permitted and effective sets and, when the process may narrow it, from the bounding set, so
// programs it starts (ip, hooks) cannot get them back either.
import type { SessionConfig } from '../config/types.js';
import { native } from '../../native/index.js';

/** linux/capability.h */
export const CAP_NET_BIND_SERVICE = 10;
export const CAP_NET_ADMIN = 12;

/** The capabilities a running session needs (see the header). */
export function capabilitiesFor(config: SessionConfig, listensItself: boolean): number[] {
  const keep = [CAP_NET_ADMIN];
  if (config.session.role === 'server' && listensItself && config.session.listen.port < 1024) keep.push(CAP_NET_BIND_SERVICE);
  return keep.sort((a, b) => a - b);
}

/**
 * Drops every other capability. Without root (a user with a persistent device it owns) there is
 * nothing to drop and nothing fails; a process that cannot narrow its bounding set (systemd
 * already did, CapabilityBoundingSet=) still drops the rest from what it holds. `warn` hears when
 * a seccomp filter refused the drop (the session runs with what it has).
 */
export function dropCapabilities(keep: number[], warn: (message: string) => void): void {
  if (!native().keepCapabilities(keep).dropped) {
    warn('cannot drop capabilities (a seccomp filter refuses capset): the session keeps the ones it was started with');
  }
}
