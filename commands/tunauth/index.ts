// tunauth: keys, session secrets and authentication checks.
import { main, type BinaryDefinition } from '../../core/cli/main.js';
import { AuthCheckCommand } from './check.js';
import { AuthGenkeyCommand } from './genkey.js';
import { AuthGenpskCommand } from './genpsk.js';
import { AuthPasswdCommand } from './passwd.js';
import { AuthProbeCommand } from './probe.js';
import { AuthPubkeyCommand } from './pubkey.js';

export const tunauthCli: BinaryDefinition = {
  name: 'tunauth',
  label: 'tunauth: keys, session secrets and authentication checks',
  commands: [AuthGenkeyCommand, AuthPubkeyCommand, AuthGenpskCommand, AuthPasswdCommand, AuthProbeCommand, AuthCheckCommand],
};

main(tunauthCli);
