// tunctl down NAME: set a TUN/TAP device down (addresses are kept).
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { checkName } from '../../core/names.js';
import { downDevice } from '../../core/tunctl/devices.js';
import { ipFor } from '../../core/tunctl/system.js';

export class DownDeviceCommand extends BaseCommand {
  static override paths = [['down']];

  static override usage = Command.Usage({
    category: 'Device commands',
    description: 'set a TUN/TAP device down',
    details: `
      Sets the link down with \`ip link set dev NAME down\`. Addresses and MTU stay, so a later
      \`tunctl up NAME\` brings it back as it was. Running it on a device that is already down is
      harmless.
    `,
    examples: [
      ['Set a device down', '$0 down office'],
      ['Set it down without echoing the ip command', '$0 down office --quiet'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  async run(): Promise<number> {
    checkName(this.name);
    await downDevice(ipFor(this), this.name);
    return 0;
  }
}
