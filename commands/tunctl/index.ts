// tunctl: builds the CLI; one import and one entry per verb.
import { main } from '../../core/cli/main.js';
import { AddDeviceCommand } from './add.js';
import { DelDeviceCommand } from './del.js';
import { UpDeviceCommand } from './up.js';
import { DownDeviceCommand } from './down.js';
import { ShowDeviceCommand } from './show.js';
import { ListDevicesCommand } from './list.js';
import { StatusSessionCommand } from './status.js';
import { WaitSessionCommand } from './wait.js';
import { WatchSessionCommand } from './watch.js';
import { ReloadSessionCommand } from './reload.js';
import { CompleteNounsCommand } from './complete.js';
import { CompletionScriptCommand } from './completion.js';

main({
  name: 'tunctl',
  label: 'tunctl — TUN/TAP devices and tund sessions',
  commands: [
    AddDeviceCommand,
    DelDeviceCommand,
    UpDeviceCommand,
    DownDeviceCommand,
    ShowDeviceCommand,
    ListDevicesCommand,
    StatusSessionCommand,
    WaitSessionCommand,
    WatchSessionCommand,
    ReloadSessionCommand,
    CompleteNounsCommand,
    CompletionScriptCommand,
  ],
});
