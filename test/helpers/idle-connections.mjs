// Opens COUNT connections to a VTun server and keeps them idle (MODE idle: never a byte) or
// stalled (MODE stall: half a HOST block, then nothing), for vtun-hostile.bats and
// bench/handshake-flood.sh. Reports on stdout, then exits when every connection is closed or
// after SECONDS (bounded):
//   opened N                     all connections are established
//   greeted N / refused N        how many got the server's greeting / were closed without one
//   closed N at MS               the N-th close, MS after all were opened
//   left N                       still open at the end
//   node idle-connections.mjs HOST PORT COUNT MODE SECONDS [LOCAL_ADDRESS]
import net from 'node:net';

const [host, port, countText, mode, secondsText, localAddress] = process.argv.slice(2);
const count = Number(countText);
let opened = 0;
let closed = 0;
let greeted = 0;
let openedAt = 0;
const sockets = [];
const done = () => {
  console.log(`greeted ${greeted}`);
  console.log(`refused ${closed > 0 ? sockets.filter((s) => s.refused).length : 0}`);
  console.log(`left ${count - closed}`);
  for (const s of sockets) s.destroy();
  process.exit(0);
};
const limit = setTimeout(done, Number(secondsText) * 1000);
for (let i = 0; i < count; i++) {
  const s = net.connect({ port: Number(port), host, ...(localAddress ? { localAddress } : {}) });
  sockets.push(s);
  s.refused = true;
  s.on('connect', () => {
    if (++opened === count) {
      openedAt = Date.now();
      console.log(`opened ${opened}`);
    }
  });
  s.once('data', () => {
    s.refused = false;
    greeted++;
    if (mode === 'stall') s.write(Buffer.from('HOST: vtd'));
  });
  s.on('error', () => {});
  s.on('close', () => {
    closed++;
    console.log(`closed ${closed} at ${openedAt ? Date.now() - openedAt : 0}`);
    if (closed === count) {
      clearTimeout(limit);
      done();
    }
  });
}
