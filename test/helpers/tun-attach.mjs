// tun-attach.mjs NAME: attach to an existing TUN/TAP device through TunDevice (the owner of a
// persistent device may do this without CAP_NET_ADMIN); prints "attached NAME KIND MTU".
import { TunDevice } from '../../dist/core/device/tun.js';

const name = process.argv[2];
try {
  const dev = TunDevice.attach(name);
  console.log(`attached ${dev.name} ${dev.kind} ${dev.mtu()}`);
  dev.close();
} catch (error) {
  console.error(`tun-attach: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`);
  process.exit(typeof error.exitCode === 'number' ? error.exitCode : 1);
}
