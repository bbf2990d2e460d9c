// socketSendFd / socketRecvFd (native/src/socket.cc): how `tund serve` hands a connection to its
// pre-started session process (core/session/pre-started.ts), over a SOCK_SEQPACKET pair.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../../native/index.js';

const addon = native();

test('socketSendFd/socketRecvFd: the message and a working fd arrive together; end of stream is an empty message', () => {
  const [listener, child] = addon.socketPair('seqpacket');
  const [mine, passed] = addon.socketPair('stream');
  try {
    addon.setNonBlocking(child, true);
    assert.equal(addon.socketRecvFd(child, 4096), null, 'nothing waits yet');
    const message = Buffer.from('{"host":"office","session":"srv-office","leftMs":4000}');
    assert.equal(addon.socketSendFd(listener, message, passed), message.length);
    addon.closeFd(passed); // the receiver's copy is the one that counts from now on
    const got = addon.socketRecvFd(child, 4096);
    assert.ok(got && got.fd !== null); // (maybe the same number as `passed`: the lowest free one)
    assert.deepEqual(got.data, message);
    // the received fd is the other end of `mine`
    addon.socketSend(mine, Buffer.from('hello'));
    addon.setNonBlocking(got.fd, true);
    assert.deepEqual(addon.socketRecv(got.fd, 64), Buffer.from('hello'));
    addon.closeFd(got.fd);
    // a message without an fd, then the listener's end closes
    addon.socketSend(listener, Buffer.from('ready'));
    assert.deepEqual(addon.socketRecvFd(child, 4096), { data: Buffer.from('ready'), fd: null });
    addon.closeFd(listener);
    assert.deepEqual(addon.socketRecvFd(child, 4096), { data: Buffer.alloc(0), fd: null });
  } finally {
    for (const fd of [child, mine]) addon.closeFd(fd);
  }
});

test('socketSendFd: an empty message or a closed peer is an error', () => {
  const [a, b] = addon.socketPair('seqpacket');
  const [x, y] = addon.socketPair('stream');
  try {
    assert.throws(() => addon.socketSendFd(a, Buffer.alloc(0), x), /must not be empty/);
    addon.closeFd(b);
    assert.throws(() => addon.socketSendFd(a, Buffer.from('m'), x), /EPIPE|ECONNRESET/);
  } finally {
    for (const fd of [a, x, y]) addon.closeFd(fd);
  }
});
