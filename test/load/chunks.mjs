#!/usr/bin/env node
// chunks.mjs - a bounded transfer in checksummed chunks, for the soak (test/load/soak.sh). Each
// chunk travels on its own TCP connection: a header line "CHUNK INDEX LENGTH SHA256\n", then the
// bytes. The receiver hashes what arrived and answers "OK INDEX\n" only when the hash matches (and
// logs the chunk as verified), "BAD INDEX\n" otherwise. The sender counts a chunk as acknowledged
// only on OK, and sends it again (a new connection) after any failure, so a link that breaks in
// the middle of a chunk costs a retry, never a silent hole.
//
//   node chunks.mjs receive --port P --log FILE
//       one line per verified chunk in FILE: "INDEX SHA256"; runs until SIGTERM
//   node chunks.mjs send --to ADDR:PORT --seconds S [--rate BYTES_PER_S] [--chunk BYTES] --log FILE
//       one JSON line per attempt in FILE; at the end one JSON summary on stdout:
//       {acked, bytes, attempts, failures, bad, longest_gap_s}
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

const [mode, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i += 2) opts[rest[i].replace(/^--/, '')] = rest[i + 1];
const die = (why) => {
  console.error(`chunks: ${why}`);
  process.exit(2);
};
const MAX_CHUNK = 16 * 1024 * 1024;

function receive() {
  if (!opts.port || !opts.log) die('receive needs --port and --log');
  const log = fs.openSync(opts.log, 'a');
  const server = net.createServer((socket) => {
    let header = null;
    let buffered = Buffer.alloc(0);
    const hash = crypto.createHash('sha256');
    let received = 0;
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('data', (data) => {
      if (header === null) {
        buffered = Buffer.concat([buffered, data]);
        const nl = buffered.indexOf(10);
        if (nl < 0) {
          if (buffered.length > 200) socket.destroy();
          return;
        }
        const m = /^CHUNK (\d+) (\d+) ([0-9a-f]{64})$/.exec(buffered.subarray(0, nl).toString());
        if (!m || Number(m[2]) > MAX_CHUNK) return socket.destroy();
        header = { index: Number(m[1]), length: Number(m[2]), sha: m[3] };
        data = buffered.subarray(nl + 1);
      }
      const take = data.subarray(0, header.length - received);
      hash.update(take);
      received += take.length;
      if (received === header.length) {
        const sha = hash.digest('hex');
        if (sha === header.sha) {
          fs.writeSync(log, `${header.index} ${sha}\n`);
          socket.end(`OK ${header.index}\n`);
        } else {
          socket.end(`BAD ${header.index}\n`);
        }
        socket.removeAllListeners('data');
      }
    });
  });
  server.listen(Number(opts.port), opts.bind ?? '0.0.0.0');
  process.on('SIGTERM', () => process.exit(0));
}

// one attempt: connect, send, wait for the answer; resolves 'OK', 'BAD' or an error text
function attempt(host, port, index, data, sha) {
  return new Promise((resolve) => {
    let answer = '';
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('timeout'), 15_000);
    const socket = net.connect({ host, port }, () => {
      socket.write(`CHUNK ${index} ${data.length} ${sha}\n`);
      socket.write(data);
    });
    socket.on('data', (d) => {
      answer += d.toString();
      if (answer.includes('\n')) finish(answer.startsWith(`OK ${index}\n`) ? 'OK' : answer.startsWith('BAD') ? 'BAD' : 'garbled');
    });
    socket.on('error', (e) => finish(e.code ?? e.message));
    socket.on('close', () => finish('closed'));
  });
}

async function send() {
  if (!opts.to || !opts.seconds || !opts.log) die('send needs --to, --seconds and --log');
  const i = opts.to.lastIndexOf(':');
  const host = opts.to.slice(0, i);
  const port = Number(opts.to.slice(i + 1));
  const rate = Number(opts.rate ?? 1048576);
  const size = Number(opts.chunk ?? 262144);
  if (!(size > 0 && size <= MAX_CHUNK && rate > 0)) die('bad --chunk or --rate');
  const log = fs.openSync(opts.log, 'a');
  const start = Date.now();
  const end = start + Number(opts.seconds) * 1000;
  const summary = { acked: 0, bytes: 0, attempts: 0, failures: 0, bad: 0, longest_gap_s: 0 };
  let lastAck = start;
  for (let index = 0; Date.now() < end; index++) {
    const data = crypto.randomBytes(size);
    const sha = crypto.createHash('sha256').update(data).digest('hex');
    for (;;) {
      const t = Date.now();
      const result = await attempt(host, port, index, data, sha);
      summary.attempts++;
      fs.writeSync(log, JSON.stringify({ t: (t - start) / 1000, index, sha, result, ms: Date.now() - t }) + '\n');
      if (result === 'OK') {
        summary.acked++;
        summary.bytes += size;
        summary.longest_gap_s = Math.max(summary.longest_gap_s, (Date.now() - lastAck) / 1000);
        lastAck = Date.now();
        break;
      }
      if (result === 'BAD') summary.bad++;
      else summary.failures++;
      if (Date.now() >= end) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // the average rate stays at or below --rate
    const due = start + ((summary.bytes / rate) * 1000);
    if (due > Date.now()) await new Promise((r) => setTimeout(r, Math.min(due, end) - Date.now()));
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

if (mode === 'receive') receive();
else if (mode === 'send') await send();
else die('usage: chunks.mjs receive|send ... (see the comment at the top)');
