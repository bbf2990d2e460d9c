#!/usr/bin/env node
// gen-completions.mjs - writes completions/{bash,zsh,fish}/* from the command definitions of the
// four binaries (`BIN --clipanion=definitions`, i.e. clipanion's cli.definitions()).
//
//   node scripts/gen-completions.mjs            # (re)write completions/
//   node scripts/gen-completions.mjs --check    # exit 1 and list the files that differ (drift test)
//   node scripts/gen-completions.mjs --out DIR  # write into DIR instead
//
// Needs the TypeScript build (npx tsc -p .): it runs bin/* and imports dist/core/completion.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { BINARIES, SHELLS, completionPath, generate } = await import(pathToFileURL(path.join(root, 'dist/core/completion/index.js')).href);

const args = process.argv.slice(2);
const check = args.includes('--check');
const outIndex = args.indexOf('--out');
const outDir = outIndex >= 0 ? path.resolve(args[outIndex + 1]) : path.join(root, 'completions');

let drift = 0;
for (const binary of BINARIES) {
  const json = execFileSync(process.execPath, [path.join(root, 'bin', binary), '--clipanion=definitions'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', TUND_COLOR: 'never' },
  });
  const definitions = JSON.parse(json);
  for (const shell of SHELLS) {
    const file = path.join(outDir, completionPath(shell, binary));
    const text = generate(shell, binary, definitions);
    if (check) {
      let old = null;
      try {
        old = readFileSync(file, 'utf8');
      } catch {
        // missing counts as drift
      }
      if (old !== text) {
        drift++;
        process.stderr.write(`gen-completions: ${path.relative(root, file)} differs from the command definitions (run "node scripts/gen-completions.mjs")\n`);
      }
    } else {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
  }
}
process.exit(drift ? 1 : 0);
