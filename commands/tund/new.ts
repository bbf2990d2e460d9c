// tund new NAME [--protocol wireguard|vtun] [options]: writes a new session file, WireGuard by
// default, with a fresh private key that never leaves the file; prints the public key to give to
// the peer. VTun (--protocol vtun) is the migration path for peers that speak only vtund.
import { Command, Option } from 'clipanion';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as t from 'typanion';
import { placeholder } from '../../core/cli/spec.js';
import { isCidr, isMtu, isName, isPort } from '../../core/cli/validators.js';
import { isWgSetting } from '../../core/cli/wg-validators.js';
import { newVtunText, newWireguardText } from '../../core/config/new-session.js';
import { writeFile0600 } from '../../core/config/write.js';
import { errnoOf, TundError, UsageFailure } from '../../core/errors.js';
import { ExitCode } from '../../core/exit.js';
import { checkName } from '../../core/names.js';
import { parseEndpoint } from '../../core/net.js';
import { configDir } from '../../core/paths.js';
import { parseWgQuick } from '../../core/wireguard/conf.js';
import { generatePrivateKey, keyFromBase64, keyToBase64, publicKeyOf } from '../../core/wireguard/keys.js';
import { BaseCommand } from '../../core/cli/base.js';
import { peerFromOptions, peerOptions, peerOptionsGiven } from '../../core/cli/peer-options.js';

/** --peer: a WireGuard public key, or (VTun) the other end's address in the tunnel. */
const isPeer = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value === 'string' && (keyFromBase64(value) !== null || net.isIP(value) !== 0)) return true;
    state?.errors?.push(`${state.p ?? '.'}: ${JSON.stringify(value)} is neither a public key nor an IP address (expected the peer's public key, 44 characters of base64 as "tunauth pubkey" prints; with --protocol vtun, its tunnel address)`);
    return false;
  },
});

export class NewSessionCommand extends BaseCommand {
  static override paths = [['new']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'write a new session file: WireGuard (default) with a fresh key, or VTun',
    details: `
      Writes \`NAME.conf\` into \`$TUND_CONFIG_DIR\` (default /etc/tund) with mode 0600. An existing file is never replaced: the command fails (exit 1) and changes nothing.

      By default the file is a WireGuard session in wg-quick(8) format: \`[Interface]\` with a new private key (made here, written only into the file: never printed, never on a command line), \`ListenPort\`, \`Address\`, \`DNS\`, \`MTU\` from the options, and one \`[Peer]\` when \`--peer\` gives its public key (with \`--endpoint\`, \`--allowed-ips\`, \`--persistent-keepalive\`, \`--preshared-key-file\`). More peers: \`tund peer add\`. The public key of the new session goes to stdout, alone on its line, to give to the peers; what to do next goes to stderr.

      Two sides exchange public keys: each runs \`tund new\`, and each names the other with \`--peer\` (or \`tund peer add\` afterwards). The side with \`--endpoint\` starts the handshake; the other answers on its \`--listen-port\`.

      \`--protocol vtun\` writes a VTun 3.0 session instead, for a peer that speaks only vtund: a client with \`--endpoint\`, else a server on \`--listen-port\` (default 5000); \`--address\` and \`--peer\` are this side's and the other side's tunnel addresses. Set its shared secret with \`tunauth passwd NAME\`. VTun has no integrity or replay protection; to convert a whole vtund.conf use \`tund import-vtun\`.

      Exit status: 0 when the file was written; 1 when it exists or cannot be written; 2 for a bad option; 77 without permission to write the directory.
    `,
    examples: [
      ['A server that waits for peers on port 51820', '$0 new hq --listen-port 51820 --address 198.19.0.1/24'],
      ['A client of it (KEY: the public key hq printed), all traffic for 198.19.0.0/24 through it', '$0 new hq --address 198.19.0.2/24 --peer KEY --endpoint 198.18.0.1:51820 --allowed-ips 198.19.0.0/24'],
      ['A road warrior: everything through the tunnel, its DNS, a keepalive for NAT', '$0 new roam --address 198.19.0.9/32 --dns 198.19.0.1 --peer KEY --endpoint vpn.example.org:51820 --allowed-ips 0.0.0.0/0,::/0 --persistent-keepalive 25'],
      ['A VTun client for an existing vtund server', '$0 new legacy --protocol vtun --endpoint 198.18.0.1:5000 --address 198.19.1.2/32 --peer 198.19.1.1 && tunauth passwd legacy'],
    ],
  });

  name = Option.String({ name: 'NAME', validator: isName });

  protocol = placeholder('wireguard|vtun', Option.String('--protocol', 'wireguard', {
    description: 'wireguard (default: the secure choice) or vtun (for peers that speak only vtund)',
    validator: t.isEnum(['wireguard', 'vtun'] as const),
  }));

  listenPort = placeholder('PORT', Option.String('-l,--listen-port', {
    description: 'UDP port to answer handshakes on (WireGuard default: a random port; VTun server default: 5000)',
    validator: isPort,
  }));

  addresses = placeholder('CIDR', Option.Array('-a,--address', [], {
    description: "This side's address in the tunnel, ADDRESS/LEN such as 198.19.0.1/24 (repeatable: IPv4 and IPv6)",
    validator: t.isArray(isCidr),
  }));

  dns = placeholder('ADDR|DOMAIN', Option.Array('--dns', [], {
    description: 'DNS server (an IP address) or search domain to use while the session runs (repeatable)',
    validator: t.isArray(isWgSetting('Interface', 'DNS', 'a DNS server such as 198.19.0.1, or a search domain')),
  }));

  mtu = placeholder('BYTES', Option.String('--mtu', {
    description: 'MTU of the device (WireGuard default: 1420)',
    validator: isMtu,
  }));

  peer = placeholder('PUBKEY', Option.String('--peer', {
    description: "The peer's public key (as it printed it); with --protocol vtun, its tunnel address",
    validator: isPeer,
  }));

  endpoint = peerOptions.endpoint();
  allowedIps = peerOptions.allowedIps();
  persistentKeepalive = peerOptions.persistentKeepalive();
  presharedKeyFile = peerOptions.presharedKeyFile();

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const dir = path.resolve(configDir());
    const file = path.join(dir, `${this.name}.conf`);
    const text = this.protocol === 'vtun' ? this.vtunText() : null;
    const privateKey = text === null ? generatePrivateKey() : null;
    try {
      const body = text ?? this.wireguardText(file, privateKey!);
      await this.writeNew(dir, file, body);
      if (privateKey === null) {
        if (!this.quiet) {
          this.note(`wrote ${file} (VTun, mode 0600)`);
          this.context.stderr.write(`next: tunauth passwd ${this.name}   # the shared secret, the same on both sides\n      tund ${this.name}             # or: systemctl enable --now tund@${this.name}\n`);
        }
        return ExitCode.ok;
      }
      const publicKey = keyToBase64(publicKeyOf(privateKey));
      this.out(publicKey);
      if (!this.quiet) this.nextSteps(file, publicKey);
      return ExitCode.ok;
    } finally {
      privateKey?.fill(0);
    }
  }

  private wireguardText(file: string, privateKey: Buffer): string {
    if (this.peer !== undefined && keyFromBase64(this.peer) === null) {
      throw new UsageFailure(`new: --peer ${JSON.stringify(this.peer)}: an address is a VTun peer; a WireGuard peer is its public key (expected 44 characters of base64, as "tunauth pubkey" prints)`);
    }
    const given = peerOptionsGiven(this);
    if (this.peer === undefined && given.length > 0) {
      throw new UsageFailure(`new: ${given.join(', ')} describe${given.length === 1 ? 's' : ''} a peer: give its public key with --peer`);
    }
    const text = newWireguardText({
      name: this.name,
      file,
      privateKey,
      listenPort: this.listenPort === undefined ? null : Number(this.listenPort),
      addresses: this.addresses,
      dns: this.dns.flatMap((d) => d.split(',').map((x) => x.trim())),
      mtu: this.mtu === undefined ? null : Number(this.mtu),
      peers: this.peer === undefined ? [] : [peerFromOptions(keyToBase64(keyFromBase64(this.peer)!), this)],
    });
    // what we write is what tund and wg-quick read: a problem here is ours, not the user's
    const check = parseWgQuick(text, file, this.name);
    if (!check.config) throw new Error(`internal error: the new file does not parse: ${check.problems.map((p) => p.message).join('; ')}`);
    return text;
  }

  private vtunText(): string {
    const wgOnly = [...peerOptionsGiven(this).filter((o) => o !== '--endpoint'), this.dns.length > 0 ? '--dns' : ''].filter(Boolean);
    if (wgOnly.length > 0) throw new UsageFailure(`new: ${wgOnly.join(', ')}: WireGuard options; VTun has no such setting`, 'leave them out with --protocol vtun');
    if (this.addresses.length > 1) throw new UsageFailure('new: --protocol vtun takes one --address (the tunnel address of this side)');
    if (this.peer !== undefined && net.isIP(this.peer) === 0) {
      throw new UsageFailure(`new: --peer ${JSON.stringify(this.peer)}: with --protocol vtun, --peer is the other side's tunnel address (expected an IP address such as 198.19.0.1)`);
    }
    if (this.endpoint !== undefined && this.listenPort !== undefined) {
      throw new UsageFailure('new: --endpoint makes a VTun client and --listen-port a VTun server; give one of them');
    }
    const endpoint = this.endpoint === undefined ? null : parseEndpoint(this.endpoint, null);
    return newVtunText({
      name: this.name,
      endpoint: endpoint?.ok ? { host: endpoint.host, port: endpoint.port } : null,
      listenPort: this.listenPort === undefined ? null : Number(this.listenPort),
      address: this.addresses[0] ?? null,
      peerAddress: this.peer ?? null,
      mtu: this.mtu === undefined ? null : Number(this.mtu),
    });
  }

  private async writeNew(dir: string, file: string, body: string): Promise<void> {
    const data = Buffer.from(body);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      if (!(await writeFile0600(file, data, false))) {
        throw new TundError(`new: ${file} already exists; nothing was written`, { hint: `choose another NAME, or remove the file first (tund new never replaces a session)` });
      }
    } catch (error) {
      if (error instanceof TundError) throw error;
      const code = errnoOf(error);
      throw new TundError(`new: cannot write ${file} (${code ?? String(error)})`, { cause: error, exitCode: code === 'EACCES' || code === 'EPERM' ? ExitCode.noPermission : ExitCode.failure });
    } finally {
      data.fill(0);
    }
  }

  private nextSteps(file: string, publicKey: string): void {
    const lines = [`wrote ${file} (WireGuard, mode 0600); its public key is on stdout:`, `  ${publicKey}`, 'next:'];
    if (this.peer === undefined) {
      lines.push(`  give the public key above to each peer; add each peer's with: tund peer add ${this.name} PUBKEY --allowed-ips CIDR`);
    } else {
      lines.push(`  give the public key above to the peer (it names this side with --peer or "tund peer add")`);
      if (this.allowedIps.length === 0) lines.push('  (the peer has no --allowed-ips yet: no packet is sent to it until it has some)');
    }
    if (this.addresses.length === 0) lines.push('  (no --address: add "Address = ..." to [Interface] unless a hook sets it)');
    lines.push(`  then run: tund ${this.name}     # or: systemctl enable --now tund@${this.name}`);
    this.context.stderr.write(lines.map((l, i) => (i === 0 ? `${this.programName}: ${l}` : l)).join('\n') + '\n');
  }
}
