// What a session process loads (docs/benchmark.md, "Memory"): every module a process imports stays
// in its memory for as long as it runs, so `tund NAME` loads the session and its own protocol, not
// the command-line framework, execa, other commands or other protocols. Checked on the import
// graph of the built modules (dist/), which is what node loads: deterministic, no timing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TUND } from '../../commands/tund/cli.js';
import { COMMAND_WORDS, sessionInvocation } from '../../commands/tund/session-args.js';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Imports {
  static: string[]; // dist-relative module paths, or package names
  dynamic: string[];
}

/** The modules FILE (dist-relative) imports: `import ... from`, `export ... from`, bare `import '...'`, and import('...'). */
function importsOf(file: string): Imports {
  const text = readFileSync(path.join(DIST, file), 'utf8');
  const resolve = (spec: string): string => {
    if (spec.startsWith('node:')) return spec;
    if (!spec.startsWith('.')) return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    return path.relative(DIST, path.resolve(path.dirname(path.join(DIST, file)), spec));
  };
  const all = (re: RegExp) => [...text.matchAll(re)].map((m) => resolve(m[1]!));
  return {
    static: [...all(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/gm), ...all(/^\s*import\s*['"]([^'"]+)['"]/gm)],
    dynamic: all(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  };
}

/** Everything ENTRIES load before any dynamic import() runs. */
function staticClosure(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (file.endsWith('.js')) queue.push(...importsOf(file).static);
  }
  return seen;
}

const ENTRY = 'commands/tund/index.js';
const SESSION_ENTRY = 'commands/tund/session-entry.js';
const PROTOCOL_DIRS = ['core/vtun/', 'core/wireguard/', 'core/vpnws/'];
// reading any session's file needs these: it may be a wg-quick file, or name a vpn-ws URL
const CONFIG_READERS = ['core/wireguard/conf.js', 'core/wireguard/session-config.js', 'core/wireguard/keys.js', 'core/vpnws/url.js'];

test('tund NAME: the entry imports nothing but its argument reader; the session and the CLI are loaded when chosen', () => {
  assert.ok(existsSync(path.join(DIST, ENTRY)), 'dist is built');
  assert.deepEqual([...staticClosure([ENTRY])].sort(), ['commands/tund/index.js', 'commands/tund/session-args.js']);
  assert.deepEqual(importsOf(ENTRY).dynamic.sort(), ['commands/tund/cli.js', 'commands/tund/session-entry.js', 'core/cli/main.js']);
});

test('tund NAME: no command-line framework, no execa, no other command, no protocol but config readers', () => {
  const loaded = staticClosure([ENTRY, SESSION_ENTRY]);
  for (const unwanted of ['clipanion', 'typanion', 'execa', 'core/cli/main.js', 'core/cli/base.js']) {
    assert.ok(!loaded.has(unwanted), `${SESSION_ENTRY} loads ${unwanted}`);
  }
  const commands = [...loaded].filter((m) => m.startsWith('commands/') && m !== ENTRY && m !== SESSION_ENTRY && m !== 'commands/tund/session-args.js');
  assert.deepEqual(commands, [], 'other commands of tund');
  const protocolModules = [...loaded].filter((m) => PROTOCOL_DIRS.some((d) => m.startsWith(d)) && !CONFIG_READERS.includes(m));
  assert.deepEqual(protocolModules, [], 'protocol modules loaded before the session has chosen its protocol');
  const packages = [...loaded].filter((m) => !m.startsWith('node:') && !m.endsWith('.js'));
  assert.deepEqual(packages, [], 'packages a session process loads');
});

test('tund NAME: each protocol, once chosen, brings none of the others', () => {
  const base = staticClosure([ENTRY, SESSION_ENTRY]);
  const protocols = importsOf('core/session/protocols.js').dynamic;
  assert.deepEqual(protocols.sort(), ['core/vpnws/protocol.js', 'core/vtun/protocol.js', 'core/wireguard/protocol.js']);
  for (const protocol of protocols) {
    const own = protocol.slice(0, protocol.lastIndexOf('/') + 1);
    const added = [...staticClosure([protocol])].filter((m) => !base.has(m));
    const foreign = added.filter((m) => PROTOCOL_DIRS.some((d) => d !== own && m.startsWith(d)));
    assert.deepEqual(foreign, [], `${protocol} loads other protocols' modules`);
    for (const pkg of ['clipanion', 'typanion', 'execa']) assert.ok(!added.includes(pkg), `${protocol} loads ${pkg}`);
  }
});

// node:crypto loads some fifteen modules of its own (core/crypto.ts has what sessions need from
// the addon); node:dns/promises comes only when a name is resolved (core/net.ts, lookupHost)
const UNNEEDED_BUILTINS = ['node:crypto', 'node:dns/promises', 'node:dns'];

test('tund NAME: no node:crypto, no node:dns before a name is resolved, whatever the protocol', () => {
  const base = staticClosure([ENTRY, SESSION_ENTRY]);
  for (const protocol of importsOf('core/session/protocols.js').dynamic) {
    const loaded = staticClosure([ENTRY, SESSION_ENTRY, protocol]);
    for (const builtin of UNNEEDED_BUILTINS) {
      const importers = [...loaded].filter((m) => m.endsWith('.js') && importsOf(m).static.includes(builtin));
      assert.deepEqual(importers, [], `${builtin} in the session of ${protocol}`);
    }
  }
  assert.ok(base.has('core/crypto.js') || staticClosure([ENTRY, SESSION_ENTRY, 'core/vtun/protocol.js']).has('core/crypto.js'), 'the session gets its primitives from core/crypto.js');
  assert.ok(importsOf('core/net.js').dynamic.includes('node:dns/promises'), 'lookupHost loads node:dns/promises when it is called');
});

test('session arguments: what the session entry takes, and all it leaves to the full CLI', () => {
  assert.deepEqual(sessionInvocation(['office']), { name: 'office', quiet: false, verbose: 0 });
  assert.deepEqual(sessionInvocation(['--instance', 'office']), { name: 'office', quiet: false, verbose: 0 });
  assert.deepEqual(sessionInvocation(['--instance=office', '-q']), { name: 'office', quiet: true, verbose: 0 });
  assert.deepEqual(sessionInvocation(['-vv', 'office', '--quiet', '--verbose']), { name: 'office', quiet: true, verbose: 3 });
  assert.deepEqual(sessionInvocation(['office', '--instance', 'office']), { name: 'office', quiet: false, verbose: 0 });
  for (const argv of [[], ['--help'], ['office', '-h'], ['-V'], ['serve'], ['check', 'office'], ['office', 'other'], ['office', '--instance', 'other'],
    ['--instance'], ['--instance', '-q'], ['--instance='], ['-x', 'office'], ['office', '--'], ['--clipanion=definitions'], ['-qx', 'office']]) {
    assert.equal(sessionInvocation(argv), null, argv.join(' '));
  }
});

test('session arguments: the words it leaves to the CLI are the first words of tund\'s other commands', () => {
  const words = TUND.commands.flatMap((c) => (c.paths ?? []).map((p) => p[0])).filter((w): w is string => w !== undefined);
  assert.deepEqual([...COMMAND_WORDS].sort(), [...new Set(words)].sort());
});
