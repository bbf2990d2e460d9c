// core/ip.ts: the child-process runner under every `ip`, and the `[#]` echo of what it runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childRunner, commandLine, echoLine } from '../../core/ip.js';

test('childRunner: output without the final newline, exit status, input, LC_ALL=C; a missing program says why', async () => {
  const echoed: string[] = [];
  const r = await childRunner.run('/bin/sh', ['-c', 'cat; echo "$LC_ALL"; echo oops >&2; exit 3'], { echo: (l) => echoed.push(l), input: 'in\n' });
  assert.deepEqual(r, { stdout: 'in\nC', stderr: 'oops', exitCode: 3 });
  assert.deepEqual(echoed, [`/bin/sh -c 'cat; echo "$LC_ALL"; echo oops >&2; exit 3'`]);
  const quiet = await childRunner.run('/bin/sh', ['-c', 'exit 0'], { echo: undefined });
  assert.deepEqual(quiet, { stdout: '', stderr: '', exitCode: 0 });
  const missing = await childRunner.run('/nonexistent/tund-no-such-program', [], { echo: undefined });
  assert.equal(missing.exitCode, 1);
  assert.match(missing.stderr, /ENOENT/);
});

test('echoLine: quotes what a shell would split, escapes what would break the line; commandLine keeps addresses bare', () => {
  assert.equal(echoLine('ip', ['link', 'set', 'dev', 'lp0', 'address', '02:00:5e:10:00:01']), "ip link set dev lp0 address '02:00:5e:10:00:01'");
  assert.equal(echoLine('ip', ['addr', 'add', '198.18.0.1/24', 'dev', 'tb_0-x.y']), 'ip addr add 198.18.0.1/24 dev tb_0-x.y');
  assert.equal(echoLine('sh', ['-c', "echo 'a b'\nexit"]), `sh -c 'echo '\\''a b'\\''\\nexit'`);
  assert.equal(echoLine('x', ['a\u00a0b', 'c\u0001']), "x 'a\\u00a0b' 'c\\u0001'");
  assert.equal(commandLine('ip', ['-6', 'addr', 'add', '2001:2::1/64']), 'ip -6 addr add 2001:2::1/64');
});
