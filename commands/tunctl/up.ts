// tunctl up NAME [--address CIDR]... [--peer ADDR] [--mtu N]: configure and bring a device up.
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { isAddress, isCidr, isMtu } from '../../core/cli/validators.js';
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
      side. Each change is echoed as \`[#] ip ...\` on stderr (silenced by \`-q\`).
    `,
    examples: [
      ['Give a device an address and bring it up', '$0 up office --address 198.18.0.1/24'],
      ['Point-to-point link with a smaller MTU', '$0 up office --address 198.18.0.1/30 --peer 198.18.0.2 --mtu 1400'],
      ['Two addresses, IPv4 and IPv6', '$0 up office --address 198.18.0.1/24 --address fd00::1/64'],
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

  async run(): Promise<number> {
    checkName(this.name);
    await upDevice(ipFor(this), {
      name: this.name,
      addresses: this.addresses,
      ...(this.peer === undefined ? {} : { peer: this.peer }),
      ...(this.mtu === undefined ? {} : { mtu: this.mtu }),
    });
    return 0;
  }
}
