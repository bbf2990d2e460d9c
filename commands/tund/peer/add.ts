// tund peer add NAME PUBKEY [--allowed-ips CIDR]... [--endpoint HOST:PORT] [...]: appends a [Peer]
// to a WireGuard session file, the file kept as it was written (comments included) above it.
import { Command, Option } from 'clipanion';
import { promises as fs } from 'node:fs';
import { isName } from '../../../core/cli/validators.js';
import { isWgSetting } from '../../../core/cli/wg-validators.js';
import { writeFile0600 } from '../../../core/config/write.js';
import { ConfigFailure, errnoOf, formatConfigProblem, TundError } from '../../../core/errors.js';
import { ExitCode } from '../../../core/exit.js';
import { checkName } from '../../../core/names.js';
import { sessionConfigPath } from '../../../core/paths.js';
import { isWgQuickText, parseWgQuick } from '../../../core/wireguard/conf.js';
import { keyFromBase64, keyToBase64 } from '../../../core/wireguard/keys.js';
import { renderWgQuickPeer } from '../../../core/wireguard/render.js';
import { BaseCommand } from '../../../core/cli/base.js';
import { peerFromOptions, peerOptions } from '../../../core/cli/peer-options.js';

export class PeerAddCommand extends BaseCommand {
  static override paths = [['peer', 'add']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'add a peer to a WireGuard session file',
    details: `
      Appends a \`[Peer]\` section for the public key PUBKEY to \`$TUND_CONFIG_DIR/NAME.conf\` (default /etc/tund), with the options given. The file must be a valid WireGuard session and must not have that peer already; otherwise nothing is written (exit 78 for a broken file, 1 for a peer it already has). The rest of the file stays as it was, comments included; the file is replaced atomically with mode 0600.

      A running session does not read its file again by itself: \`tunctl reload NAME\` (or \`systemctl reload tund@NAME\`) adds the peer to the running interface in place, and the other peers keep their handshakes. \`wg set NAME peer PUBKEY ...\` changes the running interface only (not the file).

      Exit status: 0 when the peer was added; 1 when the file does not exist, is not a WireGuard session, already has the peer, or cannot be written; 2 for a bad option; 77 without permission; 78 when the file has errors.
    `,
    examples: [
      ['Let a client with address 198.19.0.2 in (KEY: the public key it printed)', '$0 peer add hq KEY --allowed-ips 198.19.0.2/32 && tunctl reload hq'],
      ['A peer with a preshared key and both address families', '$0 peer add hq KEY --allowed-ips 198.19.0.3/32,2001:2::3/128 --preshared-key-file /etc/tund/hq-laptop.psk'],
    ],
  });

  name = Option.String({ name: 'NAME', validator: isName });

  publicKey = Option.String({ name: 'PUBKEY', validator: isWgSetting('Peer', 'PublicKey', 'the peer\'s public key, 44 characters of base64 as "tunauth pubkey" prints') });

  allowedIps = peerOptions.allowedIps();
  endpoint = peerOptions.endpoint();
  persistentKeepalive = peerOptions.persistentKeepalive();
  presharedKeyFile = peerOptions.presharedKeyFile();

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const file = sessionConfigPath(this.name);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT') throw new TundError(`peer add: no session file ${file}`, { hint: `make one with "tund new ${this.name}"` });
      throw new TundError(`peer add: cannot read ${file} (${code ?? String(error)})`, { cause: error, exitCode: code === 'EACCES' || code === 'EPERM' ? ExitCode.noPermission : ExitCode.failure });
    }
    if (!isWgQuickText(text)) throw new TundError(`peer add: ${file} is not a WireGuard session (no [Interface] section); VTun sessions have one peer`);
    const before = parseWgQuick(text, file, this.name);
    for (const w of before.warnings) this.warn(formatConfigProblem(w));
    if (!before.config) throw new ConfigFailure(before.problems, 'fix the file first; nothing was written');
    const publicKey = keyToBase64(keyFromBase64(this.publicKey)!);
    const existing = before.config.peers.find((p) => p.publicKey === publicKey);
    if (existing) throw new TundError(`peer add: ${file}:${existing.line}: the session already has peer ${publicKey}; nothing was written`, { hint: 'edit that [Peer] section to change it' });

    const peer = peerFromOptions(publicKey, this);
    const next = `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}\n${renderWgQuickPeer(peer)}`;
    const after = parseWgQuick(next, file, this.name);
    if (!after.config) throw new Error(`internal error: the file does not parse with the new peer: ${after.problems.map(formatConfigProblem).join('; ')}`);
    // what the new peer's AllowedIPs take from the others (wg gives a prefix to the last peer)
    const oldWarnings = new Set(before.warnings.map((w) => w.message));
    for (const w of after.warnings) if (!oldWarnings.has(w.message)) this.warn(formatConfigProblem(w));

    const data = Buffer.from(next);
    try {
      await writeFile0600(file, data, true);
    } catch (error) {
      const code = errnoOf(error);
      throw new TundError(`peer add: cannot write ${file} (${code ?? String(error)})`, { cause: error, exitCode: code === 'EACCES' || code === 'EPERM' ? ExitCode.noPermission : ExitCode.failure });
    } finally {
      data.fill(0);
    }
    if (!this.quiet) {
      this.note(`added peer ${publicKey} to ${file}${peer.allowedIps.length ? ` (allowed IPs ${peer.allowedIps.join(', ')})` : ' (no allowed IPs yet: nothing is routed to it)'}`);
      this.context.stderr.write(`next: tunctl reload ${this.name}   # when the session runs: the peer joins in place\n`);
    }
    return ExitCode.ok;
  }
}
