// tund showconf NAME | tund showconf --file PATH: the effective configuration of a session, as
// `wg showconf` prints an interface: every key with the value the session uses.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { ConfigLoadFailure, loadSessionNamedOrFile } from '../../core/config/index.js';
import { showConfig } from '../../core/config/show.js';
import { formatConfigProblem } from '../../core/errors.js';

export class ShowConfigCommand extends BaseCommand {
  static override paths = [['showconf']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'print the effective configuration of a session, defaults filled in',
    details: `
      Reads \`/etc/tund/NAME.conf\` (\`$TUND_CONFIG_DIR\` overrides the directory), or the file given with \`--file\`, and prints it as tund.conf text with every key the session uses and its value, defaults included, in canonical form (as \`wg showconf\` prints an interface). Keys that do not apply (Listen of a client, AllowedIPs without a route mode) are left out. Reading the output back gives the same configuration.

      The secret is never printed: only the path of its file (\`SecretFile\`).

      Exits 0, or 78 with every problem as \`file:line: problem\` when the file is invalid.
    `,
    examples: [
      ['Show what session "office" runs with', '$0 showconf office'],
      ['Compare a file with what it means', 'diff office.conf <($0 showconf --file office.conf)'],
    ],
  });

  name = Option.String({ required: false, name: 'NAME' });

  file = placeholder('FILE', Option.String('--file', {
    description: 'Show this file instead of $TUND_CONFIG_DIR/NAME.conf (NAME is the file name without .conf)',
  }));

  async run(): Promise<number> {
    try {
      const loaded = await loadSessionNamedOrFile('showconf', this.name, this.file);
      for (const w of loaded.warnings) this.warn(formatConfigProblem(w));
      this.out(showConfig(loaded.config));
    } catch (error) {
      if (error instanceof ConfigLoadFailure) for (const w of error.warnings) this.warn(formatConfigProblem(w));
      throw error;
    }
    return 0;
  }
}
