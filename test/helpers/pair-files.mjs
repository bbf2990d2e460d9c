// The files through which a bats test drives one end of a tunnel helper (pump-pair.mjs,
// wg-pair.mjs): DIR/ready written by the end, DIR/go created by the test, DIR/stats rewritten
// by the end (atomically: readers never see half a file).
import fs from 'node:fs';
import path from 'node:path';

/** Writes DIR/ready, then waits (at most 60 s, else exit 4) for the test's DIR/go. */
export async function readyThenWaitForGo(dir, who, ready) {
  fs.writeFileSync(path.join(dir, 'ready'), JSON.stringify(ready) + '\n');
  const goFile = path.join(dir, 'go');
  for (let i = 0; !fs.existsSync(goFile); i++) {
    if (i > 600) {
      console.error(`${who}: no go file after 60 s`);
      process.exit(4);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** DIR/stats = JSON of value (bigints as numbers), replaced atomically. */
export function writeStatsFile(dir, value) {
  const tmp = path.join(dir, 'stats.tmp');
  fs.writeFileSync(tmp, JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');
  fs.renameSync(tmp, path.join(dir, 'stats'));
}
