// tunctl list [--json]: the names of the TUN/TAP devices, one per line.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { devicesReport, readDeviceFacts } from '../../core/device/facts.js';
import { ipFor } from '../../core/tunctl/system.js';

export class ListDevicesCommand extends BaseCommand {
  static override paths = [['list']];

  static override usage = Command.Usage({
    category: 'Device commands',
    description: 'list the names of the TUN/TAP devices, one per line',
    details: `
      Prints the name of every TUN/TAP device of the network namespace, one per line and sorted,
      for scripts and completion. Other interfaces are left out. \`--json\` prints the same
      document as \`tunctl show --json\`.
    `,
    examples: [
      ['List the devices', '$0 list'],
      ['Remove every TUN/TAP device', '$0 list | xargs -r -n1 $0 del'],
      ['The devices as JSON', '$0 list --json'],
    ],
  });

  json = Option.Boolean('--json', false, {
    description: 'Print JSON ({"format":1,"devices":[...]}) instead of names',
  });

  async run(): Promise<number> {
    const devices = await readDeviceFacts(ipFor(this));
    if (this.json) {
      this.printJson(devicesReport(devices));
    } else {
      this.context.stdout.write(devices.map((d) => `${d.ifname}\n`).join(''));
    }
    return 0;
  }
}
