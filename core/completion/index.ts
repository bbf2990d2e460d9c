// Completion scripts for bash, zsh and fish, generated from the command definitions of each binary
// (clipanion's cli.definitions(), as printed by `BIN --clipanion=definitions`).
import { bashScript } from './bash.js';
import { fishScript } from './fish.js';
import { buildModel, type CommandDefinition } from './model.js';
import { zshScript } from './zsh.js';

export const BINARIES = ['tunctl', 'tund', 'tunauth', 'tunroute'] as const;
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Where each script lives under completions/ (and how the package installs it). */
export function completionPath(shell: Shell, binary: string): string {
  switch (shell) {
    case 'bash':
      return `bash/${binary}`;
    case 'zsh':
      return `zsh/_${binary}`;
    case 'fish':
      return `fish/${binary}.fish`;
  }
}

export function generate(shell: Shell, binary: string, definitions: CommandDefinition[]): string {
  const model = buildModel(binary, definitions);
  switch (shell) {
    case 'bash':
      return bashScript(model);
    case 'zsh':
      return zshScript(model);
    case 'fish':
      return fishScript(model);
  }
}

export { buildModel, type CommandDefinition } from './model.js';
