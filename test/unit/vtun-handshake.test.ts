// VTun authentication phase against the worked examples of docs/vtun-protocol.md (§4.5, §4.6, §5, Appendix A.1) and
// the captured exchange V1 (test/fixtures/vtun-vectors/v01-tcp-tun-plain.json, copied below).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../native/index.js';
import { StreamSocket } from '../../core/socket.js';
import { challengeKey, challengeResponse, checkResponse, decodeLetters, encodeLetters } from '../../core/vtun/challenge.js';
import { buildFlags, parseFlags, FlagsError, type VtunFlags } from '../../core/vtun/flags.js';
import {
  BLOCK_SIZE,
  BlockChannel,
  GREETING,
  HandshakeError,
  clientHandshake,
  decodeBlock,
  decodePort,
  encodeBlock,
  encodePort,
  hasTundMark,
  serverGreeting,
  serverHandshake,
  tokenize,
  type ServerSessionEntry,
} from '../../core/vtun/handshake.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// V1 handshake blocks, as captured.
const V1 = {
  greeting: '5654554e207365727665722076657220332e582030352f31342f323032320a00000000000000000000000000000000000000',
  host: '484f53543a20767464656d6f0a00000000000000000000000000000000000000000000000000000000000000000000000000',
  chal: '4f4b204348414c3a203c6968676e65646568656c686c666b6e63626969686d63676c6a616a636d6b6e6c3e0a000000000000',
  resp: '4348414c3a203c636a626c6d66616465686164646d6c696a6d6f70686963706f6f6f6b61626f673e0a000000000000000000',
  flags: '4f4b20464c4147533a203c54754b3e0a00000000000000000000000000000000000000000000000000000000000000000000',
  challenge: '876d43474b7b5ad21887c26b9092cadb',
  response: '291bc50347033cb89cef782feeea01e6',
};
const PW = Buffer.from('interop-pw');
const TUN_TCP_K: VtunFlags = { transport: 'tcp', type: 'tun', compression: { kind: 'none' }, cipher: 0, keepalive: true, speed: 0 };

test('letters: high nibble first, a..p (docs/vtun-protocol.md §4.5)', () => {
  assert.equal(encodeLetters(hex('876d4347')), 'ihgnedeh');
  assert.deepEqual(decodeLetters('ihgnedeh'), hex('876d4347'));
  assert.equal(decodeLetters('ihgnedeq'), null);
  assert.equal(decodeLetters('abc'), null);
});

test('challenge response: both worked examples of docs/vtun-protocol.md Appendix A.1', () => {
  assert.deepEqual(challengeKey(PW), hex('0e8b96fbfab4460b8b2793aab7ee5d9d'));
  assert.deepEqual(challengeResponse(hex(V1.challenge), PW), hex(V1.response));
  assert.equal(encodeLetters(challengeResponse(decodeLetters('ihgnedehelhlfkncbiihmcgljajcmknl')!, PW)), 'cjblmfadehaddmlijmophicpoookabog');
  const c2 = hex('a1 53 56 e5 0d 7c a7 44 e1 e5 84 2b 89 51 b3 f9');
  assert.deepEqual(challengeKey(Buffer.from('s3cret-pw')), hex('b4cd6aace270f1aef7c0f0eeee54b5c4'));
  assert.deepEqual(challengeResponse(c2, Buffer.from('s3cret-pw')), hex('9f 0f 5c 0b a5 88 5b f2 6c bf bb a0 16 2b 0b 63'));
  assert.ok(checkResponse(c2, hex('9f0f5c0ba5885bf26cbfbba0162b0b63'), Buffer.from('s3cret-pw')));
  assert.ok(!checkResponse(c2, hex('9f0f5c0ba5885bf26cbfbba0162b0b64'), Buffer.from('s3cret-pw')));
  assert.ok(!checkResponse(c2, hex('9f0f5c0ba5885bf26cbfbba0162b0b63'), Buffer.from('s3cret-pX')));
});

test('challenge response: sslauth no is XOR with the password', () => {
  const c = hex('00112233445566778899aabbccddeeff');
  const r = challengeResponse(c, Buffer.from('ab'), false);
  assert.equal(r[0], 0x00 ^ 0x61);
  assert.equal(r[1], 0x11 ^ 0x62);
  assert.equal(r[2], 0x22 ^ 0x61);
  assert.ok(checkResponse(c, r, Buffer.from('ab'), false));
});

test('blocks: 50 bytes, NUL padded, at most 48 characters, last byte forced NUL', () => {
  assert.deepEqual(encodeBlock(GREETING), hex(V1.greeting));
  assert.deepEqual(encodeBlock('HOST: vtdemo\n'), hex(V1.host));
  assert.equal(decodeBlock(hex(V1.flags)), 'OK FLAGS: <TuK>\n');
  assert.throws(() => encodeBlock('x'.repeat(49)), RangeError);
  assert.equal(encodeBlock('x'.repeat(48)).length, BLOCK_SIZE);
  assert.equal(decodeBlock(Buffer.alloc(50, 0x41)), 'A'.repeat(49));
});

test('flags: observed strings round-trip in vtund order (docs/vtun-protocol.md §5.1)', () => {
  for (const s of ['<TuK>', '<UuK>', '<TeK>', '<Tt>', '<Tp>', '<TuC9>', '<UuC1K>', '<TuL1K>', '<TuS128K>', '<TuKE>', '<TuKE1>', '<TuKE16>', '<TuL1KE1>', '<UeC9KE14>', '<UuL1KE10>']) {
    assert.equal(buildFlags(parseFlags(s)), s, s);
  }
  assert.equal(buildFlags(TUN_TCP_K), '<TuK>');
  assert.deepEqual(parseFlags('OK FLAGS: <UeL1KE10>\n'), { transport: 'udp', type: 'ether', compression: { kind: 'lzo', level: 1 }, cipher: 10, keepalive: true, speed: 0 });
});

test('flags: client parsing rules (docs/vtun-protocol.md §5.2)', () => {
  assert.deepEqual(parseFlags('<KuE0U>'), { transport: 'udp', type: 'tun', compression: { kind: 'none' }, cipher: 999, keepalive: true, speed: 0 });
  assert.equal(parseFlags('<TuFS0>').speed, 0);
  assert.throws(() => parseFlags('<TuC>'), FlagsError);
  assert.throws(() => parseFlags('<TuL>'), FlagsError);
  assert.throws(() => parseFlags('<TuSx>'), FlagsError);
  assert.throws(() => parseFlags('<TuX>'), FlagsError);
  assert.throws(() => parseFlags('<TuK'), FlagsError);
  assert.throws(() => parseFlags('TuK'), FlagsError);
});

test('flags: a number no C int holds is refused, so parsed flags always rebuild (found by test/fuzz vtun_handshake)', () => {
  // 4.29e33 would be rebuilt as "S4.2949672955555556e+33", which no one can parse
  assert.throws(() => parseFlags('<TuKS4294967295555555555555555555555555E1>'), /too large/);
  assert.throws(() => parseFlags('<TuC2147483648>'), FlagsError);
  assert.throws(() => parseFlags('<TuKE99999999999>'), FlagsError);
  const f = parseFlags('<TuS2147483647L9KE16>');
  assert.equal(f.speed, 2147483647);
  assert.deepEqual(parseFlags(buildFlags(f)), f);
});

test('server tokenizer: spaces and colons, first token exact (docs/vtun-protocol.md §4.3)', () => {
  assert.deepEqual(tokenize('HOST: name\n'), ['HOST', 'name']);
  assert.deepEqual(tokenize('HOST:name'), ['HOST', 'name']);
  assert.deepEqual(tokenize('  HOST ::  name  x\r\nHOST: other'), ['HOST', 'name', 'x']);
  assert.equal(tokenize('host: name\n')[0], 'host');
});

test('udp port: sent little-endian, read in either order by matching the TCP port (docs/vtun-protocol.md §6.3)', () => {
  assert.deepEqual(encodePort(36995), hex('8390'));
  assert.equal(decodePort(hex('8813'), 5000), 5000);
  assert.equal(decodePort(hex('1388'), 5000), 5000);
  assert.equal(decodePort(hex('8390'), 1), 36995);
});

// --- over real loopback sockets -------------------------------------------------------------

/** The test's side of a connection: fire-and-forget writes, as a peer program would do them. */
class Peer extends StreamSocket {
  send(data: Buffer): void {
    void this.write(data).catch(() => {});
  }
}

/** Two connected stream sockets (a socketpair), addon-owned as the sessions' sockets are. */
async function socketPair(): Promise<[Peer, Peer, () => void]> {
  const [a, b] = native().socketPair('stream');
  const c = new Peer(a);
  const s = new Peer(b);
  return [c, s, () => { c.close(); s.close(); }];
}

/** Everything that arrives on sock within a moment of quiet (for the bytes left after a handshake). */
async function drain(sock: StreamSocket, want: number): Promise<Buffer> {
  let got = Buffer.alloc(0);
  while (got.length < want) {
    const chunk = await sock.read(65536, 3000);
    if (!chunk || chunk.length === 0) break;
    got = Buffer.concat([got, chunk]);
  }
  return got;
}

test('server handshake reproduces V1 byte for byte (announce off); what follows stays on the socket', async () => {
  const [c, s, done] = await socketPair();
  try {
    const entry: ServerSessionEntry = { password: PW, sslAuth: true, flags: TUN_TCP_K };
    const ch = new BlockChannel(s);
    const result = serverHandshake(ch, { timeoutMs: 3000, challenge: hex(V1.challenge), announce: false, lookup: (h) => (h === 'vtdemo' ? entry : null) });
    const peer = new BlockChannel(c);
    assert.deepEqual(await peer.readBlock(3000), hex(V1.greeting));
    c.send(hex(V1.host));
    assert.deepEqual(await peer.readBlock(3000), hex(V1.chal));
    c.send(Buffer.concat([hex(V1.resp), hex('2000')])); // the response, then the first frame at once
    assert.deepEqual(await peer.readBlock(3000), hex(V1.flags));
    const r = await result;
    assert.equal(r.host, 'vtdemo');
    assert.equal(r.flagsText, '<TuK>');
    assert.equal(r.peerIsTund, false);
    // the handshake took exactly its blocks: the frame is still on the connection, for the pump
    assert.deepEqual(ch.detach(), Buffer.alloc(0));
    assert.deepEqual(await drain(s, 2), hex('2000'));
  } finally {
    done();
  }
});

test('client handshake answers V1 byte for byte (announce off); what follows stays on the socket', async () => {
  const [c, s, done] = await socketPair();
  try {
    const ch = new BlockChannel(c);
    const result = clientHandshake(ch, { host: 'vtdemo', password: PW, sslAuth: true, timeoutMs: 3000, announce: false });
    const peer = new BlockChannel(s);
    s.send(hex(V1.greeting));
    assert.deepEqual(await peer.readBlock(3000), hex(V1.host));
    s.send(hex(V1.chal));
    assert.deepEqual(await peer.readBlock(3000), hex(V1.resp));
    s.send(Buffer.concat([hex(V1.flags), hex('20004000')]));
    const r = await result;
    assert.equal(r.flagsText, '<TuK>');
    assert.deepEqual(r.flags, TUN_TCP_K);
    assert.equal(r.peerIsTund, false);
    assert.equal(r.greeting, 'VTUN server ver 3.X 05/14/2022');
    assert.deepEqual(ch.detach(), Buffer.alloc(0));
    assert.deepEqual(await drain(c, 4), hex('20004000'));
  } finally {
    done();
  }
});

test('tund marks its greeting and its response with a second line that vtund does not read', async () => {
  const [c, s, done] = await socketPair();
  try {
    const entry: ServerSessionEntry = { password: PW, sslAuth: true, flags: TUN_TCP_K };
    const server = serverHandshake(new BlockChannel(s), { timeoutMs: 3000, lookup: (h) => (h === 'vtdemo' ? entry : null) });
    const client = clientHandshake(new BlockChannel(c), { host: 'vtdemo', password: PW, sslAuth: true, timeoutMs: 3000 });
    const [sr, cr] = await Promise.all([server, client]);
    assert.equal(sr.peerIsTund, true);
    assert.equal(cr.peerIsTund, true);
    assert.equal(cr.greeting, 'VTUN server ver 3.X 05/14/2022');
  } finally {
    done();
  }
  // the marked blocks: the mark sits after the line end, where vtund stops reading (docs/vtun-protocol.md §4.3, §4.4)
  assert.equal(hasTundMark(`${GREETING}tund\n`), true);
  assert.equal(hasTundMark(GREETING), false);
  assert.deepEqual(tokenize('CHAL: <cjblmfadehaddmlijmophicpoookabog>\ntund\n'), ['CHAL', '<cjblmfadehaddmlijmophicpoookabog>']);
  assert.ok(Buffer.byteLength('CHAL: <cjblmfadehaddmlijmophicpoookabog>\ntund\n') <= BLOCK_SIZE - 2);
});

test('split server (tund serve): serverGreeting reads only up to the HOST line; serverHandshake resumes on the same connection', async () => {
  const [c, s, done] = await socketPair();
  try {
    const entry: ServerSessionEntry = { password: PW, sslAuth: true, flags: TUN_TCP_K };
    const client = clientHandshake(new BlockChannel(c), { host: 'vtdemo', password: PW, sslAuth: true, timeoutMs: 3000 });
    // the listener's part, then a fresh channel (as in the child process) on the same socket
    const host = await serverGreeting(new BlockChannel(s), { timeoutMs: 3000 });
    assert.equal(host, 'vtdemo');
    const sr = await serverHandshake(new BlockChannel(s), { timeoutMs: 3000, resume: { host, leftMs: 2000 }, lookup: (h) => (h === 'vtdemo' ? entry : null) });
    const cr = await client;
    assert.equal(sr.host, 'vtdemo');
    assert.equal(cr.flagsText, '<TuK>');
  } finally {
    done();
  }
});

test('split server: a resumed handshake keeps what is left of the one deadline', async () => {
  const [c, s, done] = await socketPair();
  try {
    // the client named its session and then says nothing more
    await c.write(encodeBlock('HOST: vtdemo\n'));
    const host = await serverGreeting(new BlockChannel(s), { timeoutMs: 3000 });
    const started = Date.now();
    await assert.rejects(serverHandshake(new BlockChannel(s), { timeoutMs: 3000, resume: { host, leftMs: 300 }, lookup: () => null }), /timed out/);
    assert.ok(Date.now() - started < 1500, 'the resumed handshake waited for its whole Timeout again');
  } finally {
    done();
  }
});

test('a flood right after the handshake is not read: the server reads its blocks only', async () => {
  const [c, s, done] = await socketPair();
  try {
    const entry: ServerSessionEntry = { password: PW, sslAuth: true, flags: TUN_TCP_K };
    const ch = new BlockChannel(s);
    const result = serverHandshake(ch, { timeoutMs: 3000, challenge: hex(V1.challenge), lookup: (h) => (h === 'vtdemo' ? entry : null) });
    const peer = new BlockChannel(c);
    await peer.readBlock(3000);
    c.send(hex(V1.host));
    await peer.readBlock(3000);
    // the response and 200 KiB at once (more than the pump's 128 KiB initialRx limit)
    const flood = Buffer.alloc(200 * 1024, 0x20);
    c.send(Buffer.concat([hex(V1.resp), flood]));
    await result;
    assert.equal(ch.detach().length, 0, 'nothing beyond the handshake was read into memory');
    // the kernel still has the flood (bounded by the socket buffers), in order
    const first = await s.read(65536, 3000);
    assert.ok(first && first.length > 0 && first.every((b) => b === 0x20));
  } finally {
    done();
  }
});

test('client: ERR after the response is an authentication failure', async () => {
  const [c, s, done] = await socketPair();
  try {
    const result = clientHandshake(new BlockChannel(c), { host: 'vtdemo', password: Buffer.from('wrong'), sslAuth: true, timeoutMs: 3000 });
    const peer = new BlockChannel(s);
    s.send(hex(V1.greeting));
    await peer.readBlock(3000);
    s.send(hex(V1.chal));
    const resp = decodeBlock(await peer.readBlock(3000));
    assert.notEqual(resp, 'CHAL: <cjblmfadehaddmlijmophicpoookabog>\n');
    s.send(encodeBlock('ERR\n'));
    await assert.rejects(result, (e: unknown) => e instanceof HandshakeError && e.kind === 'auth' && /authentication failed/.test(e.message));
  } finally {
    done();
  }
});

test('client: a non-VTun greeting and a server that stays silent are refused', async () => {
  {
    const [c, s, done] = await socketPair();
    try {
      const result = clientHandshake(new BlockChannel(c), { host: 'x', password: PW, sslAuth: true, timeoutMs: 3000 });
      s.send(encodeBlock('SSH-2.0-OpenSSH\n'));
      await assert.rejects(result, (e: unknown) => e instanceof HandshakeError && e.kind === 'protocol');
    } finally {
      done();
    }
  }
  {
    const [c, , done] = await socketPair();
    try {
      const t0 = Date.now();
      const result = clientHandshake(new BlockChannel(c), { host: 'x', password: PW, sslAuth: true, timeoutMs: 300 });
      await assert.rejects(result, (e: unknown) => e instanceof HandshakeError && e.kind === 'timeout');
      assert.ok(Date.now() - t0 >= 250);
    } finally {
      done();
    }
  }
});

async function serverCase(
  clientWrites: (c: Peer, peer: BlockChannel) => Promise<void>,
  opts: { timeoutMs?: number; lookup?: (h: string) => ServerSessionEntry | null; authorize?: () => string | void } = {},
): Promise<{ error: HandshakeError; lastBlock: string }> {
  const [c, s, done] = await socketPair();
  try {
    const entry: ServerSessionEntry = { password: PW, sslAuth: true, flags: TUN_TCP_K };
    const result = serverHandshake(new BlockChannel(s), {
      timeoutMs: opts.timeoutMs ?? 3000,
      challenge: hex(V1.challenge),
      lookup: opts.lookup ?? ((h) => (h === 'vtdemo' ? entry : null)),
      ...(opts.authorize ? { authorize: opts.authorize } : {}),
    });
    const settled = result.then(
      () => null,
      (e: unknown) => e as HandshakeError,
    );
    const peer = new BlockChannel(c);
    await peer.readBlock(3000); // greeting
    await clientWrites(c, peer);
    const error = await settled;
    assert.ok(error instanceof HandshakeError);
    const lastBlock = decodeBlock(await peer.readBlock(3000));
    return { error, lastBlock };
  } finally {
    done();
  }
}

test('server: wrong password and unknown session both get ERR after CHAL', async () => {
  const wrong = await serverCase(async (c, peer) => {
    c.send(hex(V1.host));
    await peer.readBlock(3000);
    c.send(encodeBlock('CHAL: <cjblmfadehaddmlijmophicpoookaboh>\n'));
  });
  assert.equal(wrong.error.kind, 'auth');
  assert.equal(wrong.lastBlock, 'ERR\n');
  const unknown = await serverCase(async (c, peer) => {
    c.send(encodeBlock('HOST: nosuch\n'));
    assert.match(decodeBlock(await peer.readBlock(3000)), /^OK CHAL: <[a-p]{32}>\n$/);
    c.send(hex(V1.resp));
  });
  assert.equal(unknown.error.kind, 'unknown_session');
  assert.equal(unknown.lastBlock, 'ERR\n');
});

test('server: HOST:name without space is accepted, lower-case host is refused', async () => {
  const ok = await serverCase(
    async (c, peer) => {
      c.send(encodeBlock('HOST:vtdemo'));
      await peer.readBlock(3000);
      c.send(hex(V1.resp));
    },
    { authorize: () => 'multi no: already connected' },
  );
  assert.equal(ok.error.kind, 'refused');
  const lower = await serverCase(async (c) => {
    c.send(encodeBlock('host: vtdemo\n'));
  });
  assert.equal(lower.error.kind, 'protocol');
  assert.equal(lower.lastBlock, 'ERR\n');
});

test('server: garbage, oversized and never-ending lines end in ERR, nothing hangs', async () => {
  const garbage = await serverCase(async (c) => {
    c.send(Buffer.alloc(50, 0xff));
  });
  assert.equal(garbage.lastBlock, 'ERR\n');
  const oversized = await serverCase(async (c, peer) => {
    c.send(Buffer.from(`HOST: ${'a'.repeat(200)}\n`)); // 207 bytes: the first 50 are one block
    await peer.readBlock(3000); // challenge for the truncated name
  });
  assert.equal(oversized.error.kind, 'protocol');
  assert.equal(oversized.lastBlock, 'ERR\n');
  const endless = await serverCase(async (c) => {
    c.send(Buffer.alloc(100 * 1024, 0x41)); // a line without end
  });
  assert.equal(endless.lastBlock, 'ERR\n');
  const badChal = await serverCase(async (c, peer) => {
    c.send(hex(V1.host));
    await peer.readBlock(3000);
    c.send(encodeBlock('CHAL: <abc>\n'));
  });
  assert.equal(badChal.error.kind, 'protocol');
});

test('server: silence and a half block time out with ERR (docs/vtun-protocol.md §4.7)', async () => {
  const t0 = Date.now();
  const silent = await serverCase(async () => {}, { timeoutMs: 300 });
  assert.equal(silent.error.kind, 'timeout');
  assert.equal(silent.lastBlock, 'ERR\n');
  assert.ok(Date.now() - t0 >= 250);
  const half = await serverCase(
    async (c) => {
      c.send(Buffer.from('HOST: vt'));
    },
    { timeoutMs: 300 },
  );
  assert.equal(half.error.kind, 'timeout');
});

test('one deadline for the whole handshake: a peer that dribbles a byte at a time is cut off at the timeout', async () => {
  // each read gets one byte after 40 ms: every per-block wait would be satisfied, the whole is not
  const dribbling = {
    read: (_max: number, timeoutMs: number) => new Promise<Buffer | null>((r) => setTimeout(() => r(timeoutMs < 40 ? null : Buffer.from('H')), Math.min(40, timeoutMs))),
    write: async () => {},
  };
  const started = Date.now();
  await assert.rejects(
    serverHandshake(new BlockChannel(dribbling), { timeoutMs: 400, lookup: () => null }),
    (e: unknown) => e instanceof HandshakeError && e.kind === 'timeout' && /longer than the timeout/.test(e.message),
  );
  const took = Date.now() - started;
  assert.ok(took < 400 + 1000 + 300, `took ${took} ms`); // the deadline, the ERR block's best-effort second, slack
});

test('a connection closed under a waiting server (tund serve stopping) fails at once and leaves no timer to hold the process', async () => {
  const [c, s, done] = await socketPair();
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const greeting = serverGreeting(new BlockChannel(s), { timeoutMs: 30_000 });
  // the greeting went out; the peer says nothing and the listener stops: it closes the socket
  assert.equal(decodeBlock((await c.read(BLOCK_SIZE, 3000))!).startsWith('VTUN server'), true);
  s.close();
  await assert.rejects(greeting, (e: unknown) => e instanceof HandshakeError && e.kind === 'closed');
  // neither the deadline's timer nor the ERR write's bound is left (it held `tund serve` 1 s)
  assert.equal(timers(), before);
  done();
});
