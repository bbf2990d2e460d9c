// tunctl add NAME --mode tun|tap [--mac ADDR]: create a persistent TUN/TAP device.
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { isMac } from '../../core/cli/validators.js';
import { checkName } from '../../core/names.js';
import { resolveId } from '../../core/tunctl/ids.js';
import { addDevice } from '../../core/tunctl/devices.js';
import { ipFor, processRunner } from '../../core/tunctl/system.js';

export class AddDeviceCommand extends BaseCommand {
  static override paths = [['add']];

  static override usage = Command.Usage({
    category: 'Device commands',
    description: 'create a persistent TUN/TAP device',
    details: `
      Creates the device NAME (1-15 letters, digits or \`_ = + . -\`) and marks it persistent, so
      that it stays after tunctl exits. \`--owner\` and \`--group\` (names or numbers) let that user or
      group open the device without CAP_NET_ADMIN. Packet information headers are always off
      (IFF_NO_PI).

      \`--mac\` gives a TAP device its Ethernet address (a unicast address such as
      02:00:5e:10:00:01), set with \`ip link set dev NAME address ...\` before the device is made
      persistent; without it the kernel picks a random one.

      Adding a device that already exists fails (exit 1) unless \`--exist-ok\` is given; then the
      existing device must be of the same kind (tun or tap, multi-queue or not) and have the
      \`--mac\` address if one is given.

      Needs CAP_NET_ADMIN (exit 77 without it) and /dev/net/tun (exit 69 without it).
    `,
    examples: [
      ['Create a TUN device', '$0 add office --mode tun'],
      ['Create a multi-queue TAP device that user "tund" may open', '$0 add lan0 --mode tap --owner tund --multi-queue'],
      ['Make sure a TUN device exists (no error if it does)', '$0 add office --mode tun --exist-ok'],
      ['A TAP device with a fixed Ethernet address', '$0 add lan0 --mode tap --mac 02:00:5e:10:00:01'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  mode = placeholder('tun|tap', Option.String('--mode', 'tun', {
    description: 'Device kind: tun (IP packets, layer 3) or tap (Ethernet frames, layer 2)',
    validator: t.isEnum(['tun', 'tap'] as const),
  }));

  mac = placeholder('ADDR', Option.String('--mac', {
    description: 'Ethernet address of a TAP device, e.g. 02:00:5e:10:00:01 (default: random)',
    validator: isMac,
  }));

  owner = placeholder('USER', Option.String('--owner', {
    description: 'User (name or uid) allowed to open the device without CAP_NET_ADMIN',
  }));

  group = placeholder('GROUP', Option.String('--group', {
    description: 'Group (name or gid) allowed to open the device without CAP_NET_ADMIN',
  }));

  multiQueue = Option.Boolean('--multi-queue', false, {
    description: 'Create a multi-queue device (IFF_MULTI_QUEUE: several fds, one per queue)',
  });

  existOk = Option.Boolean('--exist-ok', false, {
    description: 'Succeed when a device of that name and kind already exists',
  });

  async run(): Promise<number> {
    checkName(this.name);
    const runner = processRunner();
    const uid = this.owner === undefined ? undefined : await resolveId('passwd', this.owner, runner);
    const gid = this.group === undefined ? undefined : await resolveId('group', this.group, runner);
    const result = await addDevice({
      name: this.name,
      kind: this.mode,
      multiQueue: this.multiQueue,
      ...(uid === undefined ? {} : { uid }),
      ...(gid === undefined ? {} : { gid }),
      existOk: this.existOk,
      ...(this.mac === undefined ? {} : { mac: this.mac.toLowerCase() }),
      ip: ipFor(this),
      echo: (line) => this.echo(line),
    });
    if (result === 'exists' && this.verbose > 0) this.note(`${this.name}: ${this.mode} device exists already`);
    return 0;
  }
}
