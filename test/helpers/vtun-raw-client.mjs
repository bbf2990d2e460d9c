// A deliberately misbehaving VTun client for vtun-faults.bats and session.bats: authenticates with
// tund's own handshake code (dist/), then sends frames a correct peer never sends and reports on
// stdout whether the server still answers ECHO_REQ.
//   node vtun-raw-client.mjs HOST PORT SESSION PASSWORD_FILE MODE
//   MODE: oversized | badflags | garbage-data
//         flood: 200 KiB of frames (ECHO_REQ) sent together with the challenge response, before
//         the server said OK (more than a handshake may buffer)
import fs from 'node:fs';
import { StreamSocket } from '../../dist/core/socket.js';
import { BlockChannel, clientHandshake } from '../../dist/core/vtun/handshake.js';

const [host, port, session, pwFile, mode] = process.argv.slice(2);
const password = fs.readFileSync(pwFile);
const sock = await StreamSocket.connect(host, Number(port), 5000);
const frame = (word, payload = Buffer.alloc(0)) => {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(word);
  return Buffer.concat([h, payload]);
};

const flood = mode === 'flood' ? Buffer.concat(Array.from({ length: 100 * 1024 }, () => frame(0x2000))) : Buffer.alloc(0);
// the flood rides on the challenge response
const wire = {
  read: (max, ms) => sock.read(max, ms),
  write: (data) => sock.write(flood.length && data.toString('latin1').startsWith('CHAL') ? Buffer.concat([data, flood]) : data),
};
const ch = new BlockChannel(wire);
const hs = await clientHandshake(ch, { host: session, password, sslAuth: true, timeoutMs: 15000 });
console.log(`flags ${hs.flagsText}`);

/** Sends ECHO_REQ and waits (answering the peer's ECHO_REQs) for ECHO_REP. */
async function alive(ms) {
  void sock.write(frame(0x2000));
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    let h;
    try {
      h = (await ch.read(2, left)).readUInt16BE(0);
    } catch {
      return false;
    }
    if (h & 0x4000) return true;
    if (h & 0x2000) void sock.write(frame(0x4000));
    else if (h & 0x1000) return false;
    else if ((h & 0xf000) === 0) {
      try {
        await ch.read(h & 0x0fff, left);
      } catch {
        return false;
      }
    }
  }
}

if (mode === 'oversized') {
  // length 4095 > 2148: read and dropped by the receiver (docs/vtun-protocol.md §7.2)
  void sock.write(frame(0x0fff, Buffer.alloc(0x0fff, 0x45)));
  void sock.write(frame(0x0fff, Buffer.alloc(0x0fff, 0x00)));
} else if (mode === 'badflags') {
  void sock.write(frame(0x8000)); // BAD_FRAME: logged and ignored
  void sock.write(frame(0x3000)); // REQ|CLS combination: ignored by vtund
} else if (mode === 'garbage-data') {
  // well-formed frames with content that is no IP packet: the session of this client may end
  for (let i = 0; i < 5; i++) void sock.write(frame(40, Buffer.alloc(40, 0xa5)));
}
// then ask whether it still talks to us: the stream is ordered, so the server has chewed on all of
// the above by the time it answers this ECHO_REQ
console.log((await alive(4000)) ? 'alive' : 'gone');
sock.close();
process.exit(0);
