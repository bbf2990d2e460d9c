// tunctl up NAME [--address CIDR]... [--peer ADDR] [--mtu N] [--bridge BR|--nobridge]: configure and
// bring a device up.
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { isAddress, isCidr, isMtu, isName } from '../../core/cli/validators.js';
import { UsageFailure } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { upDevice } from '../../core/tunctl/devices.js';
import { ipFor } from '../../core/tunctl/system.js';

export class UpDeviceCommand extends BaseCommand {
  static override paths = [['up']];

  static override usage = Command.Usage({
    category: 'Device commands',
    description: 'set addresses and MTU of a TUN/TAP device and bring it up',
    details: `
      Sets the MTU, adds each address with \`ip addr replace\` (so running it again is harmless)
      and sets the link up. With \`--peer\`, addresses of the same IP version become
      point-to-point: local address, peer address, and the prefix of \`--address\` on the peer
      side.

      \`--bridge BR\` makes a TAP device a port of the Linux bridge BR (which must exist: \`ip link
      add BR type bridge\`), so that its frames reach the bridge's other ports; \`--nobridge\` takes
      it out of any bridge. Both are checked before anything changes, and do nothing when the
      device is already where it should be.

      Each change is echoed as \`[#] ip ...\` on stderr (silenced by \`-q\`).
    `,
    examples: [
      ['Give a device an address and bring it up', '$0 up office --address 198.18.0.1/24'],
      ['Point-to-point link with a smaller MTU', '$0 up office --address 198.18.0.1/30 --peer 198.18.0.2 --mtu 1400'],
      ['Two addresses, IPv4 and IPv6', '$0 up office --address 198.18.0.1/24 --address fd00::1/64'],
      ['Put a TAP device into the bridge br0 and bring it up', '$0 up lan0 --bridge br0'],
      ['Take a TAP device out of its bridge', '$0 up lan0 --nobridge'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  addresses = placeholder('CIDR', Option.Array('--address', [], {
    description: 'Address with prefix length, e.g. 198.18.0.1/24 (repeat for more)',
    validator: t.isArray(isCidr),
  }));

  peer = placeholder('ADDR', Option.String('--peer', {
    description: 'Peer address of a point-to-point link, e.g. 198.18.0.2',
    validator: isAddress,
  }));

  mtu = placeholder('BYTES', Option.String('--mtu', {
    description: 'MTU in bytes (576-65535)',
    validator: isMtu,
  }));

  bridge = placeholder('BRIDGE', Option.String('--bridge', {
    description: 'Make the TAP device a port of this Linux bridge, e.g. br0',
    validator: isName,
  }));

  noBridge = Option.Boolean('--nobridge', false, {
    description: 'Take the TAP device out of any bridge',
  });

  async run(): Promise<number> {
    checkName(this.name);
    if (this.bridge !== undefined && this.noBridge) {
      throw new UsageFailure(`${this.name}: --bridge "${this.bridge}" and --nobridge contradict each other`, 'give one of them');
    }
    await upDevice(ipFor(this), {
      name: this.name,
      addresses: this.addresses,
      ...(this.peer === undefined ? {} : { peer: this.peer }),
      ...(this.mtu === undefined ? {} : { mtu: this.mtu }),
      ...(this.bridge !== undefined ? { bridge: this.bridge } : this.noBridge ? { bridge: false as const } : {}),
    });
    return 0;
  }
}
