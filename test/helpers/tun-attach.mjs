// tun-attach.mjs NAME [--queues N] [--hold-ms MS]: attach to an existing TUN/TAP device through
// TunDevice, N times (one fd per queue of a multi-queue device), optionally keep the fds open for
// a while, then close them. Prints "attached NAME KIND MTU queues=N". The owner of a persistent
// device may do this without CAP_NET_ADMIN. Exit status as tunctl's (1, 69, 77).
import { TunDevice } from '../../dist/core/device/tun.js';

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const name = args[0];
const queues = Number(opt('--queues', '1'));
const holdMs = Number(opt('--hold-ms', '0'));
const devices = [];
try {
  for (let i = 0; i < queues; i++) devices.push(TunDevice.attach(name));
  const d = devices[0];
  console.log(`attached ${d.name} ${d.kind} ${d.mtu()} queues=${devices.length}`);
} catch (error) {
  for (const d of devices) d.close();
  console.error(`tun-attach: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`);
  process.exit(typeof error.exitCode === 'number' ? error.exitCode : 1);
}
setTimeout(() => {
  for (const d of devices) d.close();
  console.log('closed');
}, holdMs);
