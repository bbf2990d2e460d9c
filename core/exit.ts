// Exit codes shared by every tund command (documented in each man page's EXIT STATUS).
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notRunning: 3,
  noTun: 69, // EX_UNAVAILABLE: /dev/net/tun missing or no kernel support
  noPermission: 77, // EX_NOPERM: CAP_NET_ADMIN (or file access) missing
  badConfig: 78, // EX_CONFIG: the unit sets RestartPreventExitStatus=78
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
