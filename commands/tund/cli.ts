// tund's commands: runs one session, WireGuard or VTun (tund NAME), writes new session files
// (tund new, tund peer add), validates and imports them. index.ts runs this table for every
// command line but the plain `tund NAME`.
import type { BinaryDefinition } from '../../core/cli/main.js';
import { CheckSessionCommand } from './check.js';
import { RunSessionCommand } from './run.js';
import { ServeCommand } from './serve.js';
import { ImportVtunCommand } from './import-vtun.js';
import { ShowConfigCommand } from './showconf.js';
import { NewSessionCommand } from './new.js';
import { PeerAddCommand } from './peer/add.js';

export const TUND: BinaryDefinition = {
  name: 'tund',
  label: 'tund - one VPN session (WireGuard, or VTun 3.0 compatible), run by systemd as tund@NAME',
  commands: [RunSessionCommand, NewSessionCommand, PeerAddCommand, ServeCommand, CheckSessionCommand, ShowConfigCommand, ImportVtunCommand],
};
