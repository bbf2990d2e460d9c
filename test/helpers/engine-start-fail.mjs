#!/usr/bin/env node
// A packet engine (the addon's WgEngine) on a tun with IFF_VNET_HDR, for
// test/bats/engine-start-failure.bats, driven by files in DIR: engine A starts (DIR/a-started) and
// stops when DIR/stop-a appears (DIR/a-stopped); when DIR/start-b appears, engine B tries to start
// on the same tun and DIR/b-result says how it went ("started" or the error). The tun stays open
// until SIGTERM, so the test can look at its offloads between the steps. Only synchronous fs calls
// and timers: the test may forbid this process new threads (a cgroup's pids.max) before B starts.
//
//   node engine-start-fail.mjs --tun NAME --dir DIR
import fs from 'node:fs';
import path from 'node:path';
import { startPair } from './pair-files.mjs';

const { addon, args, openTun } = await startPair('engine-start-fail', { required: ['tun', 'dir'] });
const dir = args.dir;
const tun = openTun(args.tun);
process.on('SIGTERM', () => {
  addon.closeFd(tun.fd);
  process.exit(0);
});

const note = (name, text = '') => fs.writeFileSync(path.join(dir, name), `${text}\n`);

/** Waits (at most 60 s, else exit 4) for DIR/NAME, which the test creates. */
async function waitFor(name) {
  for (let i = 0; !fs.existsSync(path.join(dir, name)); i++) {
    if (i > 600) {
      console.error(`engine-start-fail: no ${name} file after 60 s`);
      process.exit(4);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const engine = (netFd) => new addon.WgEngine({ deviceFd: tun.fd, netFd, mtu: 1420 }, () => {});

const a = engine(addon.udpSocketBind('127.0.0.1', 0));
a.start();
note('a-started', tun.name);
await waitFor('stop-a');
a.stop();
note('a-stopped');

await waitFor('start-b');
const netB = addon.udpSocketBind('127.0.0.1', 0);
const b = engine(netB);
try {
  b.start();
  note('b-result', 'started');
} catch (error) {
  // a start that failed leaves the socket to its owner (docs/engine.md, Lifecycle)
  addon.closeFd(netB);
  note('b-result', error.message);
}
// the tun stays for the test to look at until SIGTERM
setInterval(() => {}, 1 << 30);
