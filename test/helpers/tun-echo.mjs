// tun-echo.mjs: answers IPv4 pings through a TUN device, in JS, with TunDevice.readBatch and
// writeBatch, to prove both directions of the Device batch path against the kernel.
//
//   node tun-echo.mjs --name NAME [--attach] [--replies N] [--timeout SECONDS] [--poll-ms MS]
//                     [--hold-ms MS]   (keep the device open that long after the last reply)
//
// Prints "ready NAME" once the device is open (NAME may be a pattern like "dv%d": the line
// has the kernel's name), then at the end "done requests=R replies=W max_batch=B" and exits 0
// after N replies, or 1 on timeout. Every loop is bounded in time.
import { TunDevice } from '../../dist/core/device/tun.js';
import { echoReply } from './icmp.mjs';

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const name = opt('--name', 'tun%d');
const wanted = Number(opt('--replies', '3'));
const timeoutMs = Number(opt('--timeout', '20')) * 1000;
const pollMs = Number(opt('--poll-ms', '10'));
const holdMs = Number(opt('--hold-ms', '0'));

let dev;
try {
  dev = args.includes('--attach') ? TunDevice.attach(name) : TunDevice.open(name, { kind: 'tun' });
} catch (error) {
  console.error(`tun-echo: ${error.message}`);
  process.exit(typeof error.exitCode === 'number' ? error.exitCode : 1);
}
const flags = dev.flags();
console.log(`ready ${dev.name} mtu=${dev.mtu()} batch=${dev.batchSize()} no_pi=${flags.noPi}`);

const batch = dev.batchSize();
const bufs = Array.from({ length: batch }, () => Buffer.alloc(dev.mtu() + 64));
const sizes = new Int32Array(batch);
let requests = 0;
let replies = 0;
let maxBatch = 0;
const deadline = Date.now() + timeoutMs;

function finish(code) {
  console.log(`done requests=${requests} replies=${replies} max_batch=${maxBatch}`);
  dev.close();
  process.exit(code);
}

function poll() {
  const n = dev.readBatch(bufs, sizes, 0);
  if (n > 0) {
    maxBatch = Math.max(maxBatch, n);
    const out = [];
    for (let i = 0; i < n; i++) {
      const reply = echoReply(bufs[i].subarray(0, sizes[i]));
      if (reply) {
        requests++;
        out.push(reply);
      }
    }
    let offset = 0;
    for (let tries = 0; offset < out.length && tries < 100; tries++) offset += dev.writeBatch(out, offset);
    replies += offset;
  }
  if (replies >= wanted) return void setTimeout(() => finish(0), holdMs);
  if (Date.now() > deadline) return finish(1);
  setTimeout(poll, pollMs);
}
poll();
