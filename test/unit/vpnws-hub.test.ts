// The native vpn-ws hub's start (native/src/vpnws_hub.cc): a start that fails half way (its epoll
// fd opened, its eventfd not) closes what it opened. In a child whose descriptors run out at the
// right moment: RLIMIT_NOFILE fixed (soft = hard, so that node cannot raise it), every free slot
// filled but one, which the hub's epoll fd takes; its eventfd then fails with EMFILE.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

test('a hub whose start fails after its epoll fd opened closes that fd', () => {
  const script = `
    import { closeSync, openSync } from 'node:fs';
    const { native } = await import(${JSON.stringify(path.join(here, '..', '..', 'native', 'index.js'))});
    const addon = native();
    // the hub never gets to watch it (start fails first): any open socket stands in
    const [listenFd, peerFd] = addon.socketPair('stream');
    const hub = new addon.WsHub({ listenFd }, () => {});
    const fillers = [];
    for (let i = 0; i < 4096; i++) {
      try { fillers.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code === 'EMFILE') break; throw e; }
    }
    closeSync(fillers.pop()); // one slot free: the epoll fd's
    let message = '';
    try { hub.start(); } catch (e) { message = e.message; }
    // the slot is free again only if the failed start closed its epoll fd
    let reopened = true;
    try { fillers.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; reopened = false; }
    for (const fd of fillers) closeSync(fd);
    hub.stop();
    for (const fd of [listenFd, peerFd]) addon.closeFd(fd);
    console.log(JSON.stringify({ message, reopened, filled: fillers.length }));
  `;
  const r = spawnSync('prlimit', ['--nofile=256:256', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { message: string; reopened: boolean; filled: number };
  assert.ok(out.filled > 0 && out.filled < 256, `filled ${out.filled} slots`);
  assert.match(out.message, /^WsHub: .*eventfd: Too many open files/, 'the start failed on the eventfd, after the epoll fd opened');
  assert.equal(out.reopened, true, 'the failed start left its epoll fd open');
});
