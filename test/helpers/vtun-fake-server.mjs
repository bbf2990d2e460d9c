// A fake VTun server for vtun-hostile.bats (issue 13, fix 1): it speaks only the handshake lines
// (docs/vtun-protocol.md §4), accepts any HOST and any response without knowing the password, and
// answers with the flags it is given (e.g. "<TuK>": tcp, tun, keep-alive, no encryption). It then
// counts what the client sends after OK FLAGS, which is what a spoofed endpoint would read.
// One line per event on stdout:
//   listening
//   offered <flags>
//   closed after N bytes           (the client hung up)
//   received N bytes               (the client sent data: in clear if nothing was encrypted)
//   node vtun-fake-server.mjs ADDRESS PORT FLAGS
import net from 'node:net';

const [address, port, flags] = process.argv.slice(2);
const block = (text) => {
  const b = Buffer.alloc(50);
  b.write(text, 'latin1');
  return b;
};

const server = net.createServer((sock) => {
  let buffered = Buffer.alloc(0);
  let step = 0; // 0 waits for HOST, 1 for CHAL, 2 counts the data after OK FLAGS
  let after = 0;
  let reported = 0;
  sock.write(block('VTUN server ver 3.X 05/14/2022\n'));
  sock.on('data', (chunk) => {
    if (step === 2) {
      after += chunk.length;
      return;
    }
    buffered = Buffer.concat([buffered, chunk]);
    while (step < 2 && buffered.length >= 50) {
      buffered = buffered.subarray(50);
      if (step === 0) sock.write(block(`OK CHAL: <${'a'.repeat(32)}>\n`));
      else {
        sock.write(block(`OK FLAGS: ${flags}\n`));
        console.log(`offered ${flags}`);
      }
      step++;
    }
    after += step === 2 ? buffered.length : 0;
  });
  // report data as it comes (bounded: the test ends the client and this process)
  const timer = setInterval(() => {
    if (after > reported) console.log(`received ${(reported = after)} bytes`);
  }, 100);
  const done = () => {
    clearInterval(timer);
    if (step === 2) console.log(`closed after ${after} bytes`);
  };
  sock.on('close', done);
  sock.on('error', () => {});
});
server.listen(Number(port), address, () => console.log('listening'));
