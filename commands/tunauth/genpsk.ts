// tunauth genpsk: a new WireGuard preshared key, as `wg genpsk` makes it.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { emitKey } from '../../core/wireguard/key-io.js';
import { generatePresharedKey } from '../../core/wireguard/keys.js';

export class AuthGenpskCommand extends BaseCommand {
  static override paths = [['genpsk']];

  static override usage = Command.Usage({
    category: 'Keys',
    description: 'generate a WireGuard preshared key',
    details: `
      Prints 32 random bytes in base64 on stdout, the format of \`wg genpsk\`: a preshared key both peers of one \`[Peer]\` set as \`PresharedKey\` (or \`PresharedKeyFile\`), an extra symmetric layer on top of the Curve25519 handshake. Runs under umask 077; \`--output FILE\` writes it with mode 0600 instead.
    `,
    examples: [
      ['A preshared key for the peer "laptop"', '$0 genpsk --output /etc/tund/keys/office-laptop.psk'],
      ['On stdout, for a wg-quick file', '$0 genpsk'],
    ],
  });

  output = placeholder('FILE', Option.String('-o,--output', {
    description: 'Write the key to this file (mode 0600, replaced atomically) instead of stdout',
  }));

  async run(): Promise<number> {
    process.umask(0o077);
    emitKey(generatePresharedKey(), this.context.stdout, this.output, (m) => this.warn(m));
    return 0;
  }
}
