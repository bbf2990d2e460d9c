// tunctl __complete KIND [PREFIX]: the dynamic nouns of the shell completions of all four tools
// (cobra's __complete). Hidden (no usage). Prints candidates one per line, optionally with a TAB
// and a description; always exits 0 and never prints errors.
import { Command, Option } from 'clipanion';
import { formatCandidates, nouns } from '../../core/completion/nouns.js';

export class CompleteNounsCommand extends Command {
  static override paths = [['__complete']];

  // Everything after __complete, options included, so a prefix such as "-x" is not parsed.
  args = Option.Proxy();

  async execute(): Promise<number> {
    try {
      const [kind = '', prefix = ''] = this.args;
      this.context.stdout.write(formatCandidates(await nouns(kind, prefix)));
    } catch {
      // completion must never disturb the shell
    }
    return 0;
  }
}
