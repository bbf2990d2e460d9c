// tap-host.mjs: a host on the far side of a TAP device, in JS: it answers ARP requests and IPv4
// pings for one address with its own Ethernet address, reading and writing frames with
// TunDevice.readBatch/writeBatch. With the TAP in a bridge, a ping from the bridge reaches it
// only through the bridge port, so it proves that the TAP forwards both ways.
//
//   node tap-host.mjs --name TAP --mac 02:00:5e:10:00:99 --ip 198.18.5.2 [--timeout SECONDS]
//
// Prints "ready TAP" once attached, "arp" / "echo" for each answer, and exits 0 after the timeout
// (or on SIGTERM) with "done arp=A echo=E frames=F". Every loop is bounded in time.
import { TunDevice } from '../../dist/core/device/tun.js';
import { echoReply } from './icmp.mjs';

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const name = opt('--name', undefined);
const mac = Buffer.from(opt('--mac', '02:00:5e:10:00:99').split(':').map((h) => parseInt(h, 16)));
const ip = Buffer.from(opt('--ip', '198.18.5.2').split('.').map(Number));
const timeoutMs = Number(opt('--timeout', '20')) * 1000;

/** The ARP reply to a request for our address, or undefined. */
function arpReply(f) {
  if (f.length < 42 || f.readUInt16BE(12) !== 0x0806 || f.readUInt16BE(20) !== 1) return undefined;
  if (!f.subarray(38, 42).equals(ip)) return undefined;
  const r = Buffer.from(f.subarray(0, 42));
  f.copy(r, 0, 6, 12); // to the asker
  mac.copy(r, 6);
  r.writeUInt16BE(2, 20); // reply
  mac.copy(r, 22); // sender: us
  ip.copy(r, 28);
  f.copy(r, 32, 22, 32); // target: the asker's MAC and IP
  return r;
}

/** The echo reply to an IPv4 ICMP echo request to our MAC and address, or undefined. */
function ethernetEchoReply(f) {
  if (f.length < 42 || f.readUInt16BE(12) !== 0x0800 || !f.subarray(0, 6).equals(mac)) return undefined;
  if (!f.subarray(30, 34).equals(ip)) return undefined;
  const reply = echoReply(f.subarray(14));
  if (!reply) return undefined;
  const header = Buffer.alloc(14);
  f.copy(header, 0, 6, 12); // to the sender
  mac.copy(header, 6);
  header.writeUInt16BE(0x0800, 12);
  return Buffer.concat([header, reply]);
}

let dev;
try {
  dev = TunDevice.attach(name, { kind: 'tap' });
} catch (error) {
  console.error(`tap-host: ${error.message}`);
  process.exit(typeof error.exitCode === 'number' ? error.exitCode : 1);
}
console.log(`ready ${dev.name}`);

const batch = dev.batchSize();
const bufs = Array.from({ length: batch }, () => Buffer.alloc(dev.mtu() + 64));
const sizes = new Int32Array(batch);
const counts = { arp: 0, echo: 0, frames: 0 };
const deadline = Date.now() + timeoutMs;

function finish() {
  console.log(`done arp=${counts.arp} echo=${counts.echo} frames=${counts.frames}`);
  dev.close();
  process.exit(0);
}
process.on('SIGTERM', finish);

function poll() {
  const n = dev.readBatch(bufs, sizes, 0);
  const out = [];
  for (let i = 0; i < n; i++) {
    counts.frames++;
    const frame = bufs[i].subarray(0, sizes[i]);
    const arp = arpReply(frame);
    const echo = arp ? undefined : ethernetEchoReply(frame);
    if (arp) { counts.arp++; console.log('arp'); }
    if (echo) { counts.echo++; console.log('echo'); }
    if (arp ?? echo) out.push(arp ?? echo);
  }
  let offset = 0;
  for (let tries = 0; offset < out.length && tries < 100; tries++) offset += dev.writeBatch(out, offset);
  if (Date.now() > deadline) return finish();
  setTimeout(poll, 5);
}
poll();
