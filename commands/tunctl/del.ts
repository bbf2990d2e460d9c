// tunctl del NAME: remove a TUN/TAP device.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { checkName } from '../../core/names.js';
import { deleteDevice } from '../../core/tunctl/devices.js';
import { ipFor } from '../../core/tunctl/system.js';

export class DelDeviceCommand extends BaseCommand {
  static override paths = [['del']];

  static override usage = Command.Usage({
    category: 'Device commands',
    description: 'remove a TUN/TAP device',
    details: `
      Deletes the TUN/TAP device NAME (persistent or not) with \`ip link del\`. Other kinds of
      interface (veth, bridge, ...) are refused. A missing device is an error (exit 1) unless
      \`--missing-ok\` is given.
    `,
    examples: [
      ['Remove a device', '$0 del office'],
      ['Remove a device if it exists', '$0 del office --missing-ok'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  missingOk = Option.Boolean('--missing-ok', false, {
    description: 'Succeed when there is no device of that name',
  });

  async run(): Promise<number> {
    checkName(this.name);
    const deleted = await deleteDevice(ipFor(this), this.name, this.missingOk);
    if (!deleted && this.verbose > 0) this.note(`${this.name}: no such device, nothing to do`);
    return 0;
  }
}
