// What the tunnel helpers (pump-pair.mjs, wg-pair.mjs) share: their start (the addon, the
// command line, the tun device) and the files through which a bats test drives one end:
// DIR/ready written by the end, DIR/go created by the test, DIR/stats rewritten by the end
// (atomically: readers never see half a file).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The start of a helper: the addon (from dist/), its options (`--key value`, or `--key` alone for
 * a name in `flags`; on top of `defaults`), exit 2 when one of `required` is missing, and
 * openTun(NAME), a tun as the engines want it (vnet header when they use one); root: the
 * checkout, for the helper's own imports from dist/.
 */
export async function startPair(who, { defaults = {}, flags = [], required = [] } = {}) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
  const { engineVnetHdr } = await import(path.join(root, 'dist', 'core', 'device', 'tun.js'));
  const addon = native();
  const args = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    args[k] = flags.includes(k) ? true : argv[++i];
  }
  for (const k of required) {
    if (!args[k]) {
      console.error(`${who}: --${k} is required`);
      process.exit(2);
    }
  }
  const openTun = (name) => addon.tunOpen(name, { tap: false, multiQueue: false, vnetHdr: engineVnetHdr() });
  return { addon, args, openTun, root };
}

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
