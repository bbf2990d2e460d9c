// tunroute: builds the CLI; one import and one entry per verb.
import { main } from '../../core/cli/main.js';
import { RouteAddCommand } from './add.js';
import { RouteDelCommand } from './del.js';
import { RouteFullCommand } from './full.js';
import { RouteUpCommand } from './up.js';
import { RouteDownCommand } from './down.js';
import { RouteShowCommand } from './show.js';
import { RouteCleanupCommand } from './cleanup.js';
import { RouteDnsCommand } from './dns.js';

main({
  name: 'tunroute',
  label: 'tunroute — routes, full and split tunnels, DNS and cleanup for tund sessions',
  commands: [RouteUpCommand, RouteDownCommand, RouteFullCommand, RouteAddCommand, RouteDelCommand, RouteShowCommand, RouteCleanupCommand, RouteDnsCommand],
});
