// What a session process gives back once it has settled (core/session/process.ts,
// native/src/memory.cc; docs/benchmark.md, "Memory"): one memory-reducing collection of the V8
// heap and malloc_trim, at most once for calls close together, after a short delay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import { startupMemoryReleaser } from '../../core/session/process.js';
import { native } from '../../native/index.js';

const MiB = 1024 * 1024;
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!;

test('releaseMemory: the garbage set-up left is collected and the young generation shrinks back', () => {
  // "set-up": objects that live long enough to reach the old generation, then are dropped, and a
  // young generation grown by allocation
  let kept: object[] = [];
  for (let i = 0; i < 200_000; i++) kept.push({ i, text: `config line ${i}` });
  for (let round = 0; round < 20; round++) new Array(100_000).fill(round).map((x) => ({ x }));
  const grownNewSpace = newSpace().space_size;
  kept = [];
  const before = v8.getHeapStatistics();
  native().releaseMemory();
  const after = v8.getHeapStatistics();
  assert.equal(kept.length, 0);
  assert.ok(before.used_heap_size - after.used_heap_size > 8 * MiB,
    `used heap ${(before.used_heap_size / MiB).toFixed(1)} -> ${(after.used_heap_size / MiB).toFixed(1)} MiB`);
  assert.ok(after.total_heap_size < before.total_heap_size,
    `heap ${(before.total_heap_size / MiB).toFixed(1)} -> ${(after.total_heap_size / MiB).toFixed(1)} MiB`);
  assert.ok(newSpace().space_size <= grownNewSpace, `new space ${grownNewSpace} -> ${newSpace().space_size}`);
});

test('the releaser: calls close together make one release, after the delay; a later call makes another', async () => {
  let releases = 0;
  const settled = startupMemoryReleaser(() => releases++, 20);
  settled();
  settled();
  assert.equal(releases, 0, 'not at once: the first exchanges of a fresh link go first');
  await sleep(60);
  settled();
  assert.equal(releases, 1);
  await sleep(60);
  assert.equal(releases, 2);
});
