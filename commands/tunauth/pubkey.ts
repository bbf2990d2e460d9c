// tunauth pubkey: the public key of a private key read from stdin, as `wg pubkey`.
import { Command } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { readKeyFromStdin } from '../../core/wireguard/key-io.js';
import { keyToBase64, publicKeyOf } from '../../core/wireguard/keys.js';

export class AuthPubkeyCommand extends BaseCommand {
  static override paths = [['pubkey']];

  static override usage = Command.Usage({
    category: 'Keys',
    description: 'print the public key of a WireGuard private key',
    details: `
      Reads a base64 private key from stdin (as \`tunauth genkey\` or \`wg genkey\` print it; surrounding whitespace is ignored) and prints its public key in base64, exactly as \`wg pubkey\` does. The private key is never taken from the command line.

      Exit status: 0 success, 1 when stdin does not hold a key.
    `,
    examples: [
      ['The public key of a key file', '$0 pubkey < /etc/tund/keys/office.key'],
      ['A new key pair in one line', '$0 genkey | tee office.key | $0 pubkey > office.pub'],
    ],
  });

  async run(): Promise<number> {
    const privateKey = await readKeyFromStdin(this.context.stdin, 'the private key');
    try {
      this.out(keyToBase64(publicKeyOf(privateKey)));
    } finally {
      privateKey.fill(0);
    }
    return 0;
  }
}
