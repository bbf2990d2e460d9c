// core/child.ts: the one wrapper over node:child_process for programs run to their end (ip,
// hooks, completion queries). Its callers' messages are tested with them (ip.test.ts,
// session.bats, tunroute.bats); here what the options do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runChild } from '../../core/child.js';

test('runChild collects output, writes input, adds env under LC_ALL=C', async () => {
  const r = await runChild('/bin/sh', ['-c', 'cat; echo "$TUND_X $LC_ALL"; echo oops >&2; exit 3'], { output: 'collect', input: 'in\n', env: { TUND_X: 'x', LC_ALL: 'de_DE' } });
  assert.deepEqual(r, { stdout: 'in\nx C\n', stderr: 'oops\n', code: 3, signal: null, timedOut: false });
});

test('runChild with inherited output collects nothing; stdin is /dev/null without input', async () => {
  const r = await runChild('/bin/sh', ['-c', 'test "$(cat)" = "" && exit 0; exit 4'], { output: 'inherit' });
  assert.deepEqual(r, { stdout: '', stderr: '', code: 0, signal: null, timedOut: false });
});

test('runChild stops a program that runs past its timeout with SIGTERM', async () => {
  const r = await runChild('/bin/sh', ['-c', 'exec sleep 30'], { output: 'collect', timeoutMs: 50 });
  assert.equal(r.timedOut, true);
  assert.equal(r.code, null);
  assert.equal(r.signal, 'SIGTERM');
});

test('runChild says why a program could not start', async () => {
  const r = await runChild('/nonexistent/tund-no-such-program', [], { output: 'collect' });
  assert.equal(r.code, null);
  assert.equal(r.timedOut, false);
  assert.match(r.startError?.message ?? '', /ENOENT/);
});
