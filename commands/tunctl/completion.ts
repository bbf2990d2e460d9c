// tunctl completion bash|zsh|fish: prints the shell completion scripts of the four tools (the
// generated files under completions/), for users who install from npm and have no packaged copies.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { TundError } from '../../core/errors.js';
import { BINARIES, completionPath, SHELLS, type Shell } from '../../core/completion/index.js';

/** completions/ of the package: dist/commands/tunctl -> ../../../completions. */
function completionsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '..', '..', '..', 'completions');
}

export class CompletionScriptCommand extends BaseCommand {
  static override paths = [['completion']];

  static override usage = Command.Usage({
    category: 'Shell',
    description: 'print the shell completion of tunctl, tund, tunauth and tunroute',
    details: `
      Prints the completion script for bash, zsh or fish to stdout, for all four tools or only those named. Distribution packages install the same scripts under \`/usr/share/bash-completion/completions\`, \`/usr/share/zsh/vendor-completions\` and \`/usr/share/fish/vendor_completions.d\`, where the shells find them without this command.

      zsh needs \`compinit\` to have run before the script is sourced.
    `,
    examples: [
      ['Enable completion in the current bash', 'source <($0 completion bash)'],
      ['Enable completion in fish', '$0 completion fish | source'],
      ['Only tund, for zsh', '$0 completion zsh tund'],
    ],
  });

  shell = Option.String({ name: 'shell', validator: t.isEnum(SHELLS) });

  binaries = Option.Rest({ name: 'binary' });

  async run(): Promise<number> {
    const names = this.binaries.length ? this.binaries : [...BINARIES];
    const texts: string[] = [];
    for (const name of names) {
      if (!(BINARIES as readonly string[]).includes(name)) {
        throw new TundError(`unknown tool "${name}" (expected ${BINARIES.join(', ')})`, { exitCode: 2 });
      }
      const file = path.join(completionsDir(), completionPath(this.shell as Shell, name));
      try {
        texts.push(await readFile(file, 'utf8'));
      } catch (error) {
        throw new TundError(`cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { hint: 'reinstall the package, or run "node scripts/gen-completions.mjs"' });
      }
    }
    this.context.stdout.write(texts.join('\n'));
    return 0;
  }
}
