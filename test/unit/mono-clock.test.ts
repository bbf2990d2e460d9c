// The addon's one monotonic clock (native/src/mono_clock.*, read through the kernel's vDSO where
// it has one): every timer of the engines and of WireGuard's control plane counts on it, so it must
// be the clock node's own process.hrtime reads (CLOCK_MONOTONIC), not just any steady count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { native } from '../../native/index.js';

const hrMs = () => Number(process.hrtime.bigint()) / 1e6;

test('monotonicMs is CLOCK_MONOTONIC: between two hrtime reads around it', () => {
  for (let i = 0; i < 100; i++) {
    const before = hrMs();
    const now = native().wg.monotonicMs();
    const after = hrMs();
    assert.ok(now >= before - 0.001 && now <= after + 0.001, `${before} <= ${now} <= ${after}`);
  }
});

test('monotonicMs never goes back', () => {
  let last = native().wg.monotonicMs();
  for (let i = 0; i < 10000; i++) {
    const now = native().wg.monotonicMs();
    assert.ok(now >= last, `${now} after ${last}`);
    last = now;
  }
});
