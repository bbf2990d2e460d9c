#!/usr/bin/env node
// run.mjs - runs tund's fuzz targets (docs/fuzzing.md), one after the other, each for a given
// time, and prints per target: inputs executed, coverage, crashes.
//
//   npm run fuzz -- [--seconds N] [--coverage] [--work DIR] [TARGET...]
//     --seconds N   time per target (default 60)
//     --coverage    also line coverage: native targets rebuilt with -fprofile-instr-generate and
//                   run over their corpus (llvm-cov); JS targets always report theirs
//     --work DIR    where corpora grow and crashes go (default test/fuzz/work, gitignored)
//     --build-only  build the targets and stop
//     --list        print the targets
//   TARGET: a native target (test/fuzz/native/TARGET_fuzz.cc) or a JS one
//   (test/fuzz/js/targets/TARGET.ts); default all.
// Exit 0 when no target found anything; 1 when one crashed (the input is saved under
// WORK/TARGET/crashes/ and the reproduce command printed); 2 on usage errors.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FUZZ = path.join(ROOT, 'test', 'fuzz');
const rel = (p) => path.relative(process.cwd(), p) || '.';

function fail(message, code = 1) {
  process.stderr.write(`fuzz: ${message}\n`);
  process.exit(code);
}

// ---- arguments
const o = { seconds: 60, coverage: false, work: path.join(FUZZ, 'work'), buildOnly: false, list: false, targets: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--seconds') o.seconds = Number(argv[++i]);
  else if (a === '--coverage') o.coverage = true;
  else if (a === '--work') o.work = path.resolve(argv[++i] ?? '');
  else if (a === '--build-only') o.buildOnly = true;
  else if (a === '--list') o.list = true;
  else if (a === '-h' || a === '--help') {
    process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  } else if (a.startsWith('-')) fail(`unknown option "${a}" (expected --seconds N, --coverage, --work DIR, --build-only, --list)`, 2);
  else o.targets.push(a);
}
if (!(o.seconds > 0)) fail(`--seconds "${o.seconds}" (expected a positive number of seconds)`, 2);

// ---- the targets
const NATIVE = fs.readdirSync(path.join(FUZZ, 'native')).filter((f) => f.endsWith('_fuzz.cc')).map((f) => f.replace(/_fuzz\.cc$/, '')).sort();
const JS = fs.readdirSync(path.join(FUZZ, 'js', 'targets')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
// the code each native target is about (its line coverage is reported over these files)
const NATIVE_SOURCES = {
  vtun_decode: ['vtun_codec.cc', 'engine/vtun_transform.cc', 'engine/transport.cc'],
  vtun_roundtrip: ['vtun_codec.cc'],
  vtun_tcp_split: ['engine/transport.cc', 'engine/vtun_transform.cc'],
  wg_initiation: ['wg_noise.cc'],
  wg_response: ['wg_noise.cc'],
  wg_cookie: ['wg_cookie.cc'],
  wg_transport: ['engine/wg_transform.cc', 'engine/wg_cookie_gate.cc', 'engine/replay.h'],
  wg_allowed_ips: ['engine/allowed_ips.cc'],
  wg_replay: ['engine/replay.h'],
  ws_frames: ['ws_frame.cc', 'engine/ws_transform.cc', 'engine/transport.cc'],
  http_upgrade: ['http_upgrade.cc'],
  iov_advance: ['engine/iovec_advance.h'],
  offload_sum: ['engine/offload.cc'],
  blowfish_ecb: ['blowfish_ecb.cc'],
};
if (o.list) {
  for (const t of NATIVE) process.stdout.write(`${t}\tnative (libFuzzer, ASan+UBSan)\n`);
  for (const t of JS) process.stdout.write(`${t}\tjs (coverage-guided, test/fuzz/js/engine.ts)\n`);
  process.exit(0);
}
const targets = o.targets.length ? o.targets : [...NATIVE, ...JS];
for (const t of targets) {
  if (!NATIVE.includes(t) && !JS.includes(t)) fail(`unknown target "${t}" (expected one of ${[...NATIVE, ...JS].join(', ')})`, 2);
}

// ---- build
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
const nativeWanted = targets.filter((t) => NATIVE.includes(t));
if (nativeWanted.length) {
  if (run('sh', ['-c', 'command -v clang++']).status !== 0) {
    fail('clang++ not found: the native targets need Debian\'s clang and libFuzzer (apt-get install --no-install-recommends clang libclang-rt-14-dev llvm, or bash scripts/setup.sh)');
  }
  const goals = nativeWanted.map((t) => `build/${t}`).concat(o.coverage ? nativeWanted.map((t) => `build/cov/${t}`) : []);
  const b = run('make', ['-s', '-j2', '-C', FUZZ, ...goals], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (b.status !== 0) fail('building the native targets failed (see above)');
}
if (targets.some((t) => JS.includes(t))) {
  // the TypeScript build is current unless a source is newer than its output
  const stale = (dir) =>
    fs.readdirSync(path.join(ROOT, dir), { recursive: true }).some((f) => {
      if (!String(f).endsWith('.ts')) return false;
      const out = path.join(ROOT, 'dist', dir, String(f).replace(/\.ts$/, '.js'));
      return !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(path.join(ROOT, dir, String(f))).mtimeMs;
    });
  if (stale('core') || stale(path.join('test', 'fuzz', 'js'))) {
    process.stderr.write('fuzz: compiling TypeScript\n');
    const b = run('npx', ['--no-install', 'tsc', '-p', 'tsconfig.json'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (b.status !== 0) fail('the TypeScript build failed (see above)');
  }
}
if (o.buildOnly) process.exit(0);

// ---- run
function lastMatch(text, re) {
  let m = null;
  for (const x of text.matchAll(re)) m = x;
  return m;
}

function nativeLineCoverage(t, dirs) {
  const profraw = path.join(o.work, t, 'cov.profraw');
  const profdata = path.join(o.work, t, 'cov.profdata');
  run(path.join(FUZZ, 'build', 'cov', t), ['-runs=0', ...dirs], { env: { ...process.env, LLVM_PROFILE_FILE: profraw } });
  if (run('llvm-profdata', ['merge', '-sparse', profraw, '-o', profdata]).status !== 0) return 'n/a (llvm-profdata failed)';
  const sources = NATIVE_SOURCES[t] ?? [];
  const r = run('llvm-cov', ['report', path.join(FUZZ, 'build', 'cov', t), `-instr-profile=${profdata}`]);
  if (r.status !== 0) return 'n/a (llvm-cov failed)';
  // one row per file (names as compiled: ../../native/src/...): Filename, Regions, Missed
  // Regions, Cover, Functions, Missed Functions, Executed, Lines, Missed Lines, Cover, ...;
  // summed over the target's own sources (llvm-cov 14's source filter does not match them)
  let lines = 0;
  let missed = 0;
  for (const row of (r.stdout ?? '').split('\n')) {
    const f = row.trim().split(/\s+/);
    if (!sources.some((s) => f[0].endsWith(`native/src/${s}`))) continue;
    lines += Number(f[7]);
    missed += Number(f[8]);
  }
  if (lines === 0) return 'n/a (no lines of the sources)';
  return `${lines - missed}/${lines} (${((100 * (lines - missed)) / lines).toFixed(2)}%) of ${sources.join(', ')}`;
}

const results = [];
for (const t of targets) {
  const native = NATIVE.includes(t);
  const dir = path.join(o.work, t);
  const corpus = path.join(dir, 'corpus');
  const crashes = path.join(dir, 'crashes');
  const seeds = path.join(FUZZ, 'corpus', t);
  fs.mkdirSync(corpus, { recursive: true });
  fs.mkdirSync(crashes, { recursive: true });
  process.stderr.write(`fuzz: ${t} for ${o.seconds} s (${native ? 'libFuzzer, ASan+UBSan' : 'JS, coverage-guided'})\n`);
  const started = Date.now();
  const cmd = native
    ? [path.join(FUZZ, 'build', t), [`-max_total_time=${o.seconds}`, '-print_final_stats=1', '-timeout=10', '-rss_limit_mb=2048',
        `-artifact_prefix=${crashes}/`, corpus, ...(fs.existsSync(seeds) ? [seeds] : [])]]
    : [process.execPath, [path.join(ROOT, 'dist', 'test', 'fuzz', 'js', 'engine.js'), '--target', t, '--seconds', String(o.seconds),
        '--corpus', corpus, '--seeds', seeds, '--artifacts', crashes]];
  // nice: the machine is shared; a generous bound in case a target ignores its time
  const r = run('nice', ['-n', '10', 'timeout', String(o.seconds * 2 + 120), cmd[0], ...cmd[1]]);
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  fs.writeFileSync(path.join(dir, 'last-run.log'), out);
  const done = lastMatch(out, /#(\d+)\s+(?:DONE|NEW|REDUCE|pulse|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)/g);
  const execs = lastMatch(out, /stat::number_of_executed_units: (\d+)/g);
  const artifacts = [...out.matchAll(/(?:Test unit written to |==fuzz== artifact: )(\S+)/g)].map((m) => m[1]);
  let lineCoverage = '-';
  if (!native) {
    const m = lastMatch(out, /stat::line_coverage: (\d+)\/(\d+) lines of (.*)$/gm);
    if (m) lineCoverage = `${m[1]}/${m[2]} (${((100 * Number(m[1])) / Math.max(1, Number(m[2]))).toFixed(2)}%) of ${m[3]}`;
  } else if (o.coverage) {
    lineCoverage = nativeLineCoverage(t, [corpus, ...(fs.existsSync(seeds) ? [seeds] : [])]);
  }
  const ok = r.status === 0 && artifacts.length === 0 && execs !== null;
  results.push({
    target: t,
    kind: native ? 'native' : 'js',
    seconds: Math.round((Date.now() - started) / 1000),
    inputs: execs ? Number(execs[1]) : done ? Number(done[1]) : 0,
    cov: done ? Number(done[2]) : 0,
    ft: done ? Number(done[3]) : 0,
    corpus: fs.readdirSync(corpus).length + (fs.existsSync(seeds) ? fs.readdirSync(seeds).length : 0),
    lineCoverage,
    crashes: artifacts.length || (ok ? 0 : 1),
    artifacts,
    log: path.join(dir, 'last-run.log'),
    status: r.status,
    tail: out.split('\n').filter((l) => /ERROR|SUMMARY|==fuzz==|property failed|Error/.test(l)).slice(0, 12).join('\n'),
  });
}

// ---- report
const header = ['target', 'kind', 'time', 'inputs', 'cov', 'ft', 'corpus', 'crashes', 'line coverage'];
const rows = results.map((r) => [r.target, r.kind, `${r.seconds}s`, String(r.inputs), String(r.cov), String(r.ft), String(r.corpus), String(r.crashes), r.lineCoverage]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);
process.stdout.write('(cov: blocks/edges reached; ft: libFuzzer features, for JS blocks with their count bucket; corpus: seeds + found)\n');
const failed = results.filter((r) => r.crashes > 0);
for (const r of failed) {
  process.stdout.write(`\nFAILED: ${r.target} (exit ${r.status}); log: ${rel(r.log)}\n${r.tail}\n`);
  for (const a of r.artifacts) {
    const again = r.kind === 'native' ? `${rel(path.join(FUZZ, 'build', r.target))} ${rel(a)}` : `node ${rel(path.join(ROOT, 'dist', 'test', 'fuzz', 'js', 'engine.js'))} --target ${r.target} ${rel(a)}`;
    process.stdout.write(`  input: ${rel(a)}\n  reproduce: ${again}\n`);
  }
}
process.stdout.write(`fuzz: ${results.length} target(s), ${failed.length} with findings\n`);
process.exit(failed.length ? 1 : 0);
