// tunctl show [NAME] [--json]: what the kernel says about TUN/TAP devices.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { TundError } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { devicesReport, formatDevices, readDeviceFacts } from '../../core/device/facts.js';
import { ipFor } from '../../core/tunctl/system.js';

export class ShowDeviceCommand extends BaseCommand {
  static override paths = [['show']];

  static override usage = Command.Usage({
    category: 'Device commands',
    description: 'show TUN/TAP devices: kind, flags, owner, MTU, MAC and bridge, addresses, counters',
    details: `
      Without NAME, shows every TUN/TAP device of the network namespace; other interfaces are left
      out. The human view has a header line per device and indented \`key: value\` lines, like
      \`wg show\`.

      \`--json\` prints \`{"format":1,"devices":[...]}\`. Keys are snake_case and always present
      (null when unknown); the device fields mirror \`ip -j -d link\`'s linkinfo.info_data (pi,
      vnet_hdr, multi_queue, numqueues, numdisabled, persist, user, group) plus ifname, ifindex,
      kind, up, operstate, mtu, mac (a tap's Ethernet address, null for a tun), bridge (the Linux
      bridge a tap is a port of, or null), addresses and rx/tx bytes, packets and drops.

      Showing a NAME that is not a TUN/TAP device is an error (exit 1).
    `,
    examples: [
      ['Show every TUN/TAP device', '$0 show'],
      ['Show one device as JSON', '$0 show office --json'],
      ['Received bytes of a device', "$0 show office --json | jq '.devices[0].rx_bytes'"],
      ['The Ethernet address and bridge of a TAP device', "$0 show lan0 --json | jq -r '.devices[0] | .mac, .bridge'"],
    ],
  });

  name = Option.String({ name: 'NAME', required: false });

  json = Option.Boolean('--json', false, {
    description: 'Print JSON ({"format":1,"devices":[...]}) instead of text',
  });

  async run(): Promise<number> {
    if (this.name !== undefined) checkName(this.name);
    const devices = await readDeviceFacts(ipFor(this), this.name);
    if (this.name !== undefined && devices.length === 0) {
      throw new TundError(`${this.name}: no such TUN/TAP device`, { hint: 'see "tunctl list" for the devices there are' });
    }
    if (this.json) {
      this.printJson(devicesReport(devices));
    } else {
      this.context.stdout.write(formatDevices(devices));
    }
    return 0;
  }
}
