// tunauth: session secrets and authentication checks.
import { main, type BinaryDefinition } from '../../core/cli/main.js';
import { AuthCheckCommand } from './check.js';
import { AuthPasswdCommand } from './passwd.js';
import { AuthProbeCommand } from './probe.js';

export const tunauthCli: BinaryDefinition = {
  name: 'tunauth',
  label: 'tunauth: session secrets and authentication checks',
  commands: [AuthPasswdCommand, AuthProbeCommand, AuthCheckCommand],
};

main(tunauthCli);
