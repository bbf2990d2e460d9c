// tund NAME | tund --instance NAME: run one session in the foreground (what tund@NAME.service
// runs). A WireGuard session (a wg-quick file) brings its interface up for all its peers; a VTun
// client connects to its Endpoint and reconnects per Persist; a VTun server session listens on its
// Listen address (or on the socket systemd passes as fd 3) and serves only that session.
// A session process starts through session-entry.ts, not through this class (index.ts): the
// options here and there are the same and go to the same runSessionByName.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { UsageFailure } from '../../core/errors.js';
import { runSessionByName } from '../../core/session/index.js';
import { processIo } from '../../core/cli/process-io.js';

export class RunSessionCommand extends BaseCommand {
  static override paths = [Command.Default];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'run one session (WireGuard or VTun) in the foreground',
    details: `
      Reads \`/etc/tund/NAME.conf\` (\`$TUND_CONFIG_DIR\` overrides the directory) and its secret file, then runs the session until SIGTERM or SIGINT. A session runs once: a second \`tund NAME\` is refused before it touches anything (\`already running (pid N)\`, exit 1). Logs go to stderr, one line per event, prefixed with \`NAME:\`; system changes are echoed as \`[#] ip ...\` unless \`--quiet\`.

      A WireGuard session (a wg-quick file: \`[Interface]\` and \`[Peer]\` sections) makes the tun device NAME with its \`Address\` and \`MTU\`, listens on \`ListenPort\` for every peer, starts a handshake with each peer that has an \`Endpoint\`, routes the peers' \`AllowedIPs\` through the device and sets its \`DNS\`. It is \`connected\` once those handshakes are done (at once when no peer has an Endpoint). While it runs, \`wg show NAME\`, \`wg set\` and \`wg syncconf\` work on it through \`/run/wireguard/NAME.sock\`, as on wireguard-go; a reload changes its peers and keys in place.

      A VTun client (\`Role = client\`) connects to \`Endpoint\`, authenticates, opens the tun/tap device the server asks for, sets its addresses and MTU, and moves packets until the link ends. With \`Persist = yes\` it reconnects (after 1 s, then 5 s, doubling up to 60 s); with \`Persist = keep\` the device and its addresses also stay across reconnects. The session is \`connected\` (and sends READY=1 to systemd) once a packet sent now is delivered now: the peer's link runs and the \`[Route]\` routes and DNS are in place; routes or DNS that fail make the link fail (a reconnect with Persist, else exit 1).

      A VTun server session (\`Role = server\`) listens on \`Listen\` (or on the listening socket systemd passes, \`Accept=no\`) and serves only this session; to serve many sessions on one port use \`tund serve\`.

      SIGHUP (\`systemctl reload tund@NAME\`) re-reads the configuration and the secret. A client keeps a connected link as it is when neither changed, and reconnects at once with the new configuration when something did (or when the link is not up); a server session keeps its link and applies the new configuration to the next connection. A broken new file changes nothing: one log line names its problems and the old configuration stays (\`tunctl reload NAME\` prints them and exits 1).

      VTun has no integrity or replay protection: use it only over networks you trust.

      Exit status: 0 after SIGTERM/SIGINT (an orderly stop is not a failure) or when the peer closed the link; 1 when it already runs, on authentication failure, or a lost link or failed routes (without Persist); 77 without CAP_NET_ADMIN; 78 for an invalid configuration.
    `,
    examples: [
      ['Run the session "office" in the foreground', '$0 office'],
      ['Run an existing wg-quick file as the session "wg0"', 'install -m 600 /etc/wireguard/wg0.conf /etc/tund/wg0.conf && $0 wg0'],
      ['The same, as the systemd unit tund@office.service runs it', '$0 --instance office'],
    ],
  });

  name = Option.String({ required: false, name: 'NAME' });

  instance = placeholder('NAME', Option.String('--instance', { description: 'Session NAME (as used by tund@NAME.service)' }));

  async run(): Promise<number> {
    if (this.name !== undefined && this.instance !== undefined && this.name !== this.instance) {
      throw new UsageFailure(`two different session names "${this.name}" and "${this.instance}"`, 'give the NAME once');
    }
    const name = this.instance ?? this.name;
    if (name === undefined) throw new UsageFailure('missing session NAME', 'run "tund NAME", or see "tund --help"');
    return runSessionByName(name, processIo(this));
  }
}
