// tunauth passwd NAME: sets a session's secret from a terminal prompt (no echo, asked twice) or
// from one line of stdin. Never from the command line; never printed or logged.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { isName } from '../../core/cli/validators.js';
import { TundError } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { oneLine, readAll, readHiddenLine } from '../../core/auth/prompt.js';
import { writeSecretFile } from '../../core/auth/secret.js';
import { findSessionSecret } from '../../core/auth/session.js';

export class AuthPasswdCommand extends BaseCommand {
  static override paths = [['passwd']];

  static override usage = Command.Usage({
    category: 'Secrets',
    description: "set a session's secret (the VTun password)",
    details: `
      Reads the secret from the terminal (echo off, asked twice) or, when stdin is not a terminal, as one line from stdin, and writes it to the session's secret file (\`[Session] SecretFile\`, default \`CONFIG_DIR/NAME.secret\`) atomically, with mode 0600 under umask 077.

      The secret is never taken from the command line and never printed.
    `,
    examples: [
      ['Set the secret of session office at a prompt', '$0 passwd office'],
      ['Set it from a file (one line) in a script', '$0 passwd office < /root/office.pw'],
    ],
  });

  name = Option.String({ name: 'name', validator: isName });

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const target = await findSessionSecret(this.name);
    const stdin = this.context.stdin as NodeJS.ReadStream;
    let secret: Buffer | null;
    if (stdin.isTTY) {
      secret = await readHiddenLine(stdin, this.context.stderr, `Secret for session ${this.name}: `);
      if (secret === null || secret.length === 0) throw new TundError(`${this.name}: empty secret, nothing written`);
      const again = await readHiddenLine(stdin, this.context.stderr, 'Again: ');
      const same = again !== null && again.equals(secret);
      again?.fill(0);
      if (!same) {
        secret.fill(0);
        throw new TundError(`${this.name}: the two secrets differ, nothing written`, { hint: 'run it again' });
      }
    } else {
      const all = await readAll(stdin);
      secret = oneLine(all);
      all.fill(0);
      if (secret.length === 0) throw new TundError(`${this.name}: empty secret on stdin, nothing written`);
    }
    if (secret.includes(0)) throw new TundError(`${this.name}: the secret contains a NUL byte, nothing written`);
    try {
      writeSecretFile(target.file, secret);
    } finally {
      secret.fill(0);
    }
    if (!this.quiet) this.note(`${this.name}: secret written to ${target.file} (mode 0600)`);
    return 0;
  }
}
