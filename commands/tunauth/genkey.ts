// tunauth genkey: a new WireGuard private key, as `wg genkey` makes it.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { emitKey } from '../../core/wireguard/key-io.js';
import { generatePrivateKey } from '../../core/wireguard/keys.js';

export class AuthGenkeyCommand extends BaseCommand {
  static override paths = [['genkey']];

  static override usage = Command.Usage({
    category: 'Keys',
    description: 'generate a WireGuard private key',
    details: `
      Prints a new random Curve25519 private key in base64 on stdout, the same format as \`wg genkey\` (either tool reads the other's keys). The process runs under umask 077; with \`--output FILE\` the key is written atomically to FILE with mode 0600 instead, and when stdout is a file that group or others can read, a warning says so.

      Derive the public key to give to peers with \`tunauth pubkey\`.
    `,
    examples: [
      ['Make a key pair in /etc/tund/keys', '$0 genkey --output /etc/tund/keys/office.key && $0 pubkey < /etc/tund/keys/office.key'],
      ['The same as wg(8) would do it', '(umask 077; $0 genkey > office.key)'],
    ],
  });

  output = placeholder('FILE', Option.String('-o,--output', {
    description: 'Write the key to this file (mode 0600, replaced atomically) instead of stdout',
  }));

  async run(): Promise<number> {
    process.umask(0o077);
    emitKey(generatePrivateKey(), this.context.stdout, this.output, (m) => this.warn(m));
    return 0;
  }
}
