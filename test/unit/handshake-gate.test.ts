// The caps on unauthenticated connections (issue 13, fix 2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HandshakeGate } from '../../core/session/handshake-gate.js';

test('at most perSource from one address, at most total overall; a release frees the place once', () => {
  const gate = new HandshakeGate({ total: 3, perSource: 2 });
  const a1 = gate.enter('198.18.0.1');
  const a2 = gate.enter('198.18.0.1');
  assert.equal(typeof a1, 'function');
  assert.equal(typeof a2, 'function');
  assert.match(gate.enter('198.18.0.1') as string, /2 handshakes from 198\.18\.0\.1 already running \(MaxHandshakesPerSource = 2\)/);
  const b1 = gate.enter('198.18.0.2');
  assert.equal(typeof b1, 'function');
  assert.match(gate.enter('198.18.0.3') as string, /3 handshakes already running \(MaxHandshakes = 3\)/);
  assert.equal(gate.refused, 2);
  (a1 as () => void)();
  (a1 as () => void)(); // twice is once
  assert.equal(gate.running, 2);
  assert.equal(typeof gate.enter('198.18.0.1'), 'function');
  assert.equal(typeof gate.enter('198.18.0.3'), 'string');
});

test('new limits apply to the next connections', () => {
  const gate = new HandshakeGate({ total: 1, perSource: 1 });
  assert.equal(typeof gate.enter('198.18.0.1'), 'function');
  gate.setLimits({ total: 2, perSource: 1 });
  assert.equal(typeof gate.enter('198.18.0.2'), 'function');
});
