// A small coverage-guided fuzzer for tund's TypeScript parsers (docs/fuzzing.md). libFuzzer
// cannot drive JavaScript, and Jazzer.js does not install here (see the doc), so this does what
// libFuzzer does, in the same shape: a corpus (seeds + what was found), mutations of corpus
// entries, and an input joins the corpus when it reaches code no earlier input reached.
//
// Coverage: V8's precise block coverage through node:inspector (Profiler.takePreciseCoverage
// after every input, counters reset each time), restricted to the target's modules. A feature
// is one block of those modules with the bucket of its execution count (1, 2, 3, 4-7, ... as
// libFuzzer does), or a block of a called function that did not run. `cov` counts blocks that
// ran at least once, `ft` features.
//
// The target runs in a worker thread; this thread is its watchdog: an input still running after
// the target's time bound is saved as timeout-SHA1 and the run fails (a synchronous endless loop
// cannot be interrupted any other way). An exception out of the target is saved as crash-SHA1.
//
//   node dist/test/fuzz/js/engine.js --target NAME [--seconds N] [--runs N] [--corpus DIR]
//        [--seeds DIR] [--artifacts DIR] [--seed N] [FILE...]
//   With FILEs: runs each once (reproduce a crash) and exits 1 if one fails.
// Output: libFuzzer-like status lines, then `stat::` lines the runner (test/fuzz/run.mjs) reads.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { JsFuzzTarget } from './target.js';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Options {
  target: string;
  seconds: number;
  runs: number;
  corpus: string | null;
  seeds: string | null;
  artifacts: string;
  seed: number;
  files: string[];
}

type ToMain =
  | { kind: 'log'; text: string }
  | { kind: 'finding'; what: 'crash'; file: string; text: string }
  | { kind: 'done'; ok: boolean };

// shared with the watchdog: [0] input sequence number, [1] running (1/0), [2] input length
const HEADER_INTS = 4;

function parseArgs(argv: string[]): Options {
  const o: Options = { target: '', seconds: 10, runs: 0, corpus: null, seeds: null, artifacts: '.', seed: Date.now() % 2 ** 31, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--target') o.target = next();
    else if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--runs') o.runs = Number(next());
    else if (a === '--corpus') o.corpus = next();
    else if (a === '--seeds') o.seeds = next();
    else if (a === '--artifacts') o.artifacts = next();
    else if (a === '--seed') o.seed = Number(next());
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else o.files.push(a);
  }
  if (!/^[a-z0-9_]+$/.test(o.target)) usage('--target NAME is required (a file of test/fuzz/js/targets/)');
  if (!(o.seconds > 0)) usage(`--seconds "${o.seconds}" (expected a positive number)`);
  return o;
}

function usage(problem: string): never {
  process.stderr.write(`fuzz: ${problem}\nusage: engine.js --target NAME [--seconds N] [--runs N] [--corpus DIR] [--seeds DIR] [--artifacts DIR] [--seed N] [FILE...]\n`);
  process.exit(2);
}

const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

// ------------------------------------------------------------------------------ main: watchdog

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const { target } = (await import(targetUrl(o.target))) as { target: JsFuzzTarget };
  const timeoutMs = target.timeoutMs ?? 1000;
  const maxLength = target.maxLength ?? 4096;
  const shared = new SharedArrayBuffer(HEADER_INTS * 4 + Math.max(maxLength, ...o.files.map((f) => fs.statSync(f).size)));
  const ints = new Int32Array(shared, 0, HEADER_INTS);
  const bytes = new Uint8Array(shared, HEADER_INTS * 4);
  fs.mkdirSync(o.artifacts, { recursive: true });

  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { options: o, shared } });
  let ok = true;
  let finished = false;
  let lastSeq = -1;
  let lastChange = Date.now();
  const watchdog = setInterval(() => {
    const seq = Atomics.load(ints, 0);
    if (seq !== lastSeq) {
      lastSeq = seq;
      lastChange = Date.now();
      return;
    }
    if (Atomics.load(ints, 1) === 1 && Date.now() - lastChange > timeoutMs) {
      const input = Buffer.from(bytes.subarray(0, Atomics.load(ints, 2)));
      const file = path.join(o.artifacts, `timeout-${sha1(input)}`);
      fs.writeFileSync(file, input);
      process.stdout.write(`==fuzz== timeout: one input ran longer than ${timeoutMs} ms\n==fuzz== artifact: ${file}\n`);
      ok = false;
      finished = true;
      clearInterval(watchdog);
      void worker.terminate();
    }
  }, Math.min(100, timeoutMs / 4));

  worker.on('message', (m: ToMain) => {
    if (m.kind === 'log') process.stdout.write(m.text);
    else if (m.kind === 'finding') {
      process.stdout.write(`${m.text}\n==fuzz== ${m.what}: saved as ${m.file}\n==fuzz== artifact: ${m.file}\n`);
      ok = false;
    } else if (m.kind === 'done') {
      ok = ok && m.ok;
      finished = true;
      clearInterval(watchdog);
    }
  });
  worker.on('error', (e) => {
    process.stdout.write(`==fuzz== the fuzzer itself failed: ${e.stack ?? e}\n`);
    ok = false;
  });
  await new Promise<void>((resolve) => worker.on('exit', () => resolve()));
  clearInterval(watchdog);
  if (!finished) ok = false;
  process.exit(ok ? 0 : 1);
}

function targetUrl(name: string): string {
  return pathToFileURL(path.join(DIST, 'test', 'fuzz', 'js', 'targets', `${name}.js`)).href;
}

// ------------------------------------------------------------------------------ worker: fuzzer

interface CoverageRange {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: { ranges: CoverageRange[] }[];
}

class Coverage {
  private readonly session = new inspector.Session();
  readonly features = new Set<string>();
  readonly blocks = new Set<string>();
  // coarse features (a block ran / a block of a called function did not), for batches
  private readonly presence = new Set<string>();
  private modules = new Map<string, number>(); // script url -> index
  // every function of the modules as the first take after loading saw it (uncalled ones with
  // count 0): later takes list only functions that ran
  private skeleton = new Map<string, Map<string, CoverageRange[]>>();

  constructor() {
    this.session.connect();
    this.post('Profiler.enable');
    this.start();
  }

  post<T = unknown>(method: string, params: object = {}): T {
    // an in-thread session answers synchronously
    let result: T | undefined;
    let error: Error | null = null;
    this.session.post(method, params, (e, r) => {
      error = e;
      result = r as T;
    });
    if (error) throw error;
    return result as T;
  }

  start(): void {
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  /** Coverage of these modules (loaded just now) guides and is reported. */
  watch(modules: string[]): void {
    modules.forEach((m, i) => this.modules.set(pathToFileURL(path.join(DIST, m)).href, i));
    for (const script of this.take()) this.skeleton.set(script.url, functionsOf(script));
    const missing = [...this.modules.keys()].filter((u) => !this.skeleton.has(u));
    if (missing.length) throw new Error(`target modules not loaded by the target: ${missing.join(' ')}`);
  }

  take(): ScriptCoverage[] {
    return this.post<{ result: ScriptCoverage[] }>('Profiler.takePreciseCoverage').result.filter((s) => this.modules.has(s.url));
  }

  /**
   * The features of what ran since the last take; how many are new (and remembered). `coarse`:
   * for a batch of inputs, whose counts add up: only whether a block ran, nothing remembered.
   */
  collect(coarse = false): number {
    let added = 0;
    for (const script of this.take()) {
      const m = this.modules.get(script.url)!;
      for (const fn of script.functions) {
        if (fn.ranges.length === 0 || fn.ranges[0]!.count === 0) continue; // not called
        for (const r of fn.ranges) {
          const block = `${m}:${r.startOffset}:${r.endOffset}`;
          const seen = `${block}:${r.count > 0 ? '+' : '0'}`;
          if (coarse) {
            if (!this.presence.has(seen)) added++;
            continue;
          }
          this.presence.add(seen);
          const feature = `${block}:${bucket(r.count)}`;
          if (!this.features.has(feature)) {
            this.features.add(feature);
            added++;
          }
          if (r.count > 0) this.blocks.add(block);
        }
      }
    }
    return added;
  }

  /** Line coverage of the modules by the inputs that ran since the last take. */
  lines(): { covered: number; total: number } {
    const latest = new Map(this.take().map((s) => [s.url, functionsOf(s)]));
    let covered = 0;
    let total = 0;
    for (const [url, functions] of this.skeleton) {
      const source = fs.readFileSync(fileURLToPath(url), 'utf8');
      const merged = new Map([...functions, ...(latest.get(url) ?? new Map<string, CoverageRange[]>())]);
      // paint every byte with the count of the innermost range around it: functions from the
      // outside in, each function's ranges in V8's order (enclosing ranges first)
      const order = [...merged.values()].sort((a, b) => a[0]!.startOffset - b[0]!.startOffset || b[0]!.endOffset - a[0]!.endOffset);
      const counts = new Int8Array(source.length).fill(-1);
      for (const ranges of order) {
        for (const r of ranges) counts.fill(r.count > 0 ? 1 : 0, r.startOffset, Math.min(r.endOffset, source.length));
      }
      let offset = 0;
      for (const line of source.split('\n')) {
        const first = line.search(/\S/);
        const text = line.trim();
        // lines with something to execute (not comments, lone brackets, imports)
        const code = first >= 0 && !/^(\/\/|\/\*|\*|[})\]]+[;,)]*$|import |export \{)/.test(text);
        if (code && counts[offset + first]! >= 0) {
          total++;
          if (counts[offset + first]! > 0) covered++;
        }
        offset += line.length + 1;
      }
    }
    return { covered, total };
  }
}

function functionsOf(script: ScriptCoverage): Map<string, CoverageRange[]> {
  const out = new Map<string, CoverageRange[]>();
  for (const fn of script.functions) {
    const head = fn.ranges[0];
    if (head) out.set(`${head.startOffset}:${head.endOffset}`, fn.ranges);
  }
  return out;
}

function bucket(count: number): number {
  if (count <= 3) return count;
  if (count <= 7) return 4;
  if (count <= 15) return 8;
  if (count <= 31) return 16;
  if (count <= 127) return 32;
  return 128;
}

// xorshift32: reproducible runs with --seed
class Random {
  constructor(private state: number) {
    if (this.state === 0) this.state = 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.below(list.length)]!;
  }
}

const INTERESTING = ['0', '1', '-1', '255', '256', '65535', '65536', '4294967295', '4294967296', '2147483648', '9007199254740993', '1e21', '99999999999999999999', '0x10', '00', '3600'];

class Mutator {
  constructor(
    private readonly rnd: Random,
    private readonly dictionary: Buffer[],
    private readonly maxLength: number,
  ) {}

  mutate(input: Buffer, corpus: Buffer[]): Buffer {
    let b: Buffer = Buffer.from(input);
    const n = 1 + this.rnd.below(4);
    for (let i = 0; i < n; i++) b = this.once(b, corpus);
    return b.length > this.maxLength ? b.subarray(0, this.maxLength) : b;
  }

  private once(b: Buffer, corpus: Buffer[]): Buffer {
    const r = this.rnd;
    const at = (extra = 0) => r.below(b.length + extra);
    switch (r.below(12)) {
      case 0: // flip a bit
        if (b.length) b[at()]! ^= 1 << r.below(8);
        return b;
      case 1: // a random byte, usually printable
        if (b.length) b[at()] = r.below(4) === 0 ? r.below(256) : 32 + r.below(95);
        return b;
      case 2: { // insert random bytes
        const ins = Buffer.alloc(1 + r.below(8)).map(() => (r.below(3) === 0 ? r.below(256) : 32 + r.below(95)));
        const p = at(1);
        return Buffer.concat([b.subarray(0, p), ins, b.subarray(p)]);
      }
      case 3: { // erase a range
        if (b.length < 2) return b;
        const p = at();
        return Buffer.concat([b.subarray(0, p), b.subarray(p + 1 + r.below(Math.min(16, b.length - p)))]);
      }
      case 4: { // copy a range elsewhere
        if (!b.length) return b;
        const p = at();
        const part = b.subarray(p, p + 1 + r.below(32));
        const q = at(1);
        return Buffer.concat([b.subarray(0, q), part, b.subarray(q)]);
      }
      case 5: { // splice with another corpus entry
        const other = r.pick(corpus);
        if (!other || !other.length) return b;
        const p = at(1);
        const q = r.below(other.length);
        return Buffer.concat([b.subarray(0, p), other.subarray(q, q + 1 + r.below(64))]);
      }
      case 6:
      case 7: { // a dictionary word
        if (!this.dictionary.length) return b;
        const word = r.pick(this.dictionary);
        const p = r.below(2) ? lineStart(b, at(1)) : at(1);
        return Buffer.concat([b.subarray(0, p), word, b.subarray(p)]);
      }
      case 8: { // replace a number with an interesting one
        const text = b.toString('latin1');
        const numbers = [...text.matchAll(/\d+/g)];
        if (!numbers.length) return Buffer.concat([b, Buffer.from(r.pick(INTERESTING))]);
        const m = r.pick(numbers);
        return Buffer.concat([b.subarray(0, m.index!), Buffer.from(r.pick(INTERESTING)), b.subarray(m.index! + m[0].length)]);
      }
      case 9: { // duplicate, drop or swap lines
        const lines = b.toString('latin1').split('\n');
        const i = r.below(lines.length);
        const j = r.below(lines.length);
        const op = r.below(3);
        if (op === 0) lines.splice(i, 0, lines[j]!);
        else if (op === 1 && lines.length > 1) lines.splice(i, 1);
        else [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        return Buffer.from(lines.join('\n'), 'latin1');
      }
      case 10: { // a line break or a separator
        const p = at(1);
        return Buffer.concat([b.subarray(0, p), Buffer.from(r.pick(['\n', '\r\n', ' ', '\t', '=', ',', ';', '#', '"', '\0'])), b.subarray(p)]);
      }
      default: { // repeat a byte (long tokens, deep nesting)
        if (!b.length) return b;
        const p = at();
        return Buffer.concat([b.subarray(0, p), Buffer.alloc(1 + r.below(r.below(8) === 0 ? 300 : 16), b[p]!), b.subarray(p)]);
      }
    }
  }
}

function lineStart(b: Buffer, p: number): number {
  const nl = b.lastIndexOf(10, p - 1);
  return nl < 0 ? 0 : nl + 1;
}

function readDir(dir: string | null): Buffer[] {
  if (!dir || !fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .map((f) => fs.readFileSync(path.join(dir, f)));
}

async function fuzzWorker(): Promise<void> {
  const { options: o, shared } = workerData as { options: Options; shared: SharedArrayBuffer };
  const ints = new Int32Array(shared, 0, HEADER_INTS);
  const bytes = new Uint8Array(shared, HEADER_INTS * 4);
  const send = (m: ToMain) => parentPort!.postMessage(m);
  const log = (text: string) => send({ kind: 'log', text: `${text}\n` });

  // coverage first, then the target's modules: functions loaded before would not be counted
  const coverage = new Coverage();
  const { target } = (await import(targetUrl(o.target))) as { target: JsFuzzTarget };
  coverage.watch(target.modules);
  const maxLength = target.maxLength ?? 4096;

  let executed = 0;
  const runOne = async (input: Buffer): Promise<boolean> => {
    bytes.set(input.subarray(0, bytes.length));
    Atomics.store(ints, 2, Math.min(input.length, bytes.length));
    Atomics.add(ints, 0, 1);
    Atomics.store(ints, 1, 1);
    executed++;
    try {
      await target.run(input);
      return true;
    } catch (error) {
      const file = path.join(o.artifacts, `crash-${sha1(input)}`);
      fs.writeFileSync(file, input);
      const e = error as Error;
      send({ kind: 'finding', what: 'crash', file, text: `==fuzz== ${e?.name ?? 'Error'} out of target ${o.target}: ${e?.stack ?? String(error)}` });
      return false;
    } finally {
      Atomics.store(ints, 1, 0);
    }
  };

  if (o.files.length > 0) {
    let ok = true;
    for (const f of o.files) {
      const passed = await runOne(fs.readFileSync(f));
      log(`${f}: ${passed ? 'ok' : 'FAILED'}`);
      ok &&= passed;
    }
    send({ kind: 'done', ok });
    return;
  }

  const rnd = new Random(o.seed);
  const mutator = new Mutator(rnd, (target.dictionary ?? []).map((w) => Buffer.from(w, 'latin1')), maxLength);
  if (o.corpus) fs.mkdirSync(o.corpus, { recursive: true });
  const corpus: Buffer[] = [];
  const started = Date.now();
  const status = (what: string) =>
    log(`#${executed}\t${what} cov: ${coverage.blocks.size} ft: ${coverage.features.size} corp: ${corpus.length} exec/s: ${Math.round(executed / Math.max(0.001, (Date.now() - started) / 1000))}`);

  log(`INFO: target ${o.target}, seed ${o.seed}, modules ${target.modules.join(' ')}`);
  const initial = [...readDir(o.seeds), ...readDir(o.corpus)];
  if (initial.length === 0) initial.push(Buffer.alloc(0));
  for (const input of initial) {
    if (!(await runOne(input))) return send({ kind: 'done', ok: false });
    if (coverage.collect() > 0) corpus.push(input);
  }
  if (corpus.length === 0) corpus.push(initial[0]!);
  status('INITED');

  // Mutants run in batches with one coverage take per batch (a take costs more than running
  // most inputs); a batch that reached something new runs again one input at a time, each
  // with its own take, to find the inputs that did.
  const BATCH = 16;
  const deadline = started + o.seconds * 1000;
  let nextReport = 1024;
  while (Date.now() < deadline && (o.runs === 0 || executed < o.runs)) {
    const batch: Buffer[] = [];
    for (let i = 0; i < BATCH; i++) {
      // newer entries (found later, usually deeper) a little more often
      const base = corpus[rnd.below(2) ? rnd.below(corpus.length) : corpus.length - 1 - rnd.below(Math.min(8, corpus.length))]!;
      const input = mutator.mutate(base, corpus);
      if (!(await runOne(input))) return send({ kind: 'done', ok: false });
      batch.push(input);
    }
    if (coverage.collect(true) > 0) {
      for (const input of batch) {
        if (!(await runOne(input))) return send({ kind: 'done', ok: false });
        if (coverage.collect() > 0) {
          corpus.push(input);
          if (o.corpus) fs.writeFileSync(path.join(o.corpus, sha1(input)), input);
          status('NEW   ');
        }
      }
    }
    if (executed >= nextReport) {
      status('pulse ');
      nextReport *= 2;
    }
  }
  status('DONE  ');
  // line coverage: the whole corpus once more, counted together
  coverage.take();
  for (const input of corpus) await runOne(input);
  const { covered, total } = coverage.lines();
  log(`stat::number_of_executed_units: ${executed}`);
  log(`stat::corpus_size: ${corpus.length}`);
  log(`stat::line_coverage: ${covered}/${total} lines of ${target.modules.length} module(s) (compiled JavaScript)`);
  send({ kind: 'done', ok: true });
}

if (isMainThread) {
  await main();
} else {
  await fuzzWorker();
}
