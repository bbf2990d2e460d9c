// Completion: the model built from cli.definitions() (verbs, options and whether they take a value,
// positionals and rest arguments, value hints), the generated scripts' shape, and the dynamic
// nouns behind `tunctl __complete`.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { binaryDefinitions } from '../../core/cli/main.js';
import { placeholder } from '../../core/cli/spec.js';
import { buildModel, parseOptionDefinition, parseUsagePositionals, type CommandDefinition } from '../../core/completion/model.js';
import { generate } from '../../core/completion/index.js';
import { formatCandidates, nouns } from '../../core/completion/nouns.js';

class ShowThingCommand extends BaseCommand {
  static override paths = [['show']];
  static override usage = Command.Usage({ description: 'show a device', examples: [['a', '$0 show x'], ['b', '$0 show']] });
  json = Option.Boolean('--json', false, { description: 'JSON please' });
  name = Option.String({ required: false, name: 'NAME' });
  async run() {}
}

class AddThingCommand extends BaseCommand {
  static override paths = [['add']];
  static override usage = Command.Usage({ description: 'add a device', examples: [['a', '$0 add x'], ['b', '$0 add y --mode tap']] });
  mode = placeholder('tun|tap', Option.String('--mode', { description: 'tun or tap' }));
  dryRun = Option.Boolean('-n,--dry-run', false, { description: 'plan only' });
  name = Option.String({ name: 'NAME' });
  prefixes = Option.Rest({ name: 'PREFIX' });
  async run() {}
}

class HiddenThingCommand extends Command {
  static override paths = [['__complete']];
  args = Option.Proxy();
  async execute() {
    return 0;
  }
}

function definitions(): CommandDefinition[] {
  return binaryDefinitions({ name: 'tunctl', label: 'test', commands: [ShowThingCommand, AddThingCommand, HiddenThingCommand] });
}

test('option definitions: names and whether a value follows', () => {
  assert.deepEqual(parseOptionDefinition('-n,--dry-run'), { names: ['-n', '--dry-run'], takesValue: false, placeholder: null });
  assert.deepEqual(parseOptionDefinition('--mode tun|tap'), { names: ['--mode'], takesValue: true, placeholder: 'tun|tap' });
  assert.deepEqual(parseOptionDefinition('--client HOST[:PORT]'), { names: ['--client'], takesValue: true, placeholder: 'HOST[:PORT]' });
  assert.deepEqual(parseOptionDefinition('-v,--verbose'), { names: ['-v', '--verbose'], takesValue: false, placeholder: null });
});

test('usage positionals: required, optional, rest', () => {
  assert.deepEqual(parseUsagePositionals('tunroute add <NAME> <PREFIX>...', 'tunroute', ['add']), {
    positionals: [{ name: 'NAME', optional: false }, { name: 'PREFIX', optional: false }],
    rest: true,
  });
  assert.deepEqual(parseUsagePositionals('tund [NAME]', 'tund', []), { positionals: [{ name: 'NAME', optional: true }], rest: false });
  assert.deepEqual(parseUsagePositionals('tunctl list', 'tunctl', ['list']), { positionals: [], rest: false });
});

test('the model from cli.definitions(): verbs, options, hints; hidden commands left out', () => {
  const model = buildModel('tunctl', definitions());
  assert.deepEqual(model.commands.map((c) => c.path.join(' ')), ['show', 'add']);
  const add = model.commands.find((c) => c.path[0] === 'add')!;
  const mode = add.options.find((o) => o.names.includes('--mode'))!;
  assert.equal(mode.takesValue, true);
  assert.deepEqual(mode.value, { kind: 'words', words: ['tun', 'tap'] });
  const dry = add.options.find((o) => o.names.includes('--dry-run'))!;
  assert.deepEqual(dry.names, ['-n', '--dry-run']);
  assert.equal(dry.takesValue, false);
  assert.ok(add.options.some((o) => o.names.includes('--help')));
  assert.equal(add.rest, true);
  assert.equal(add.positionals.length, 2); // NAME, then the rest
  const show = model.commands.find((c) => c.path[0] === 'show')!;
  assert.deepEqual(show.positionals[0]!.value, { kind: 'noun', noun: 'devices' });
  assert.equal(show.positionals[0]!.optional, true);
});

test('generated scripts name every verb and option and call tunctl __complete', () => {
  const defs = definitions();
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const text = generate(shell, 'tunctl', defs);
    for (const word of ['show', 'add', 'mode', 'json', 'dry-run', 'tunctl __complete']) {
      assert.ok(text.includes(word), `${shell} script lacks ${word}`);
    }
    assert.ok(!text.includes("'__complete'"), `${shell} script offers the hidden verb`);
  }
  assert.match(generate('bash', 'tunctl', defs), /^complete -F _tunctl tunctl$/m);
  assert.match(generate('zsh', 'tunctl', defs), /^#compdef tunctl$/m);
  // the same definitions give the same text (the drift test depends on it)
  assert.equal(generate('fish', 'tunctl', defs), generate('fish', 'tunctl', definitions()));
});

test('nouns: sessions from CONFIG_DIR, running ones from RUN_DIR, filtered by prefix', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tund-complete-'));
  const etc = path.join(dir, 'etc');
  const run = path.join(dir, 'run');
  mkdirSync(etc);
  mkdirSync(run);
  for (const f of ['office.conf', 'lab.conf', 'office.secret', 'bad name.conf', 'README']) writeFileSync(path.join(etc, f), '');
  writeFileSync(path.join(run, 'office.sock'), '');
  const saved = { c: process.env.TUND_CONFIG_DIR, r: process.env.TUND_RUN_DIR };
  process.env.TUND_CONFIG_DIR = etc;
  process.env.TUND_RUN_DIR = run;
  try {
    assert.deepEqual((await nouns('sessions', '')).map((c) => c.value), ['lab', 'office']);
    assert.deepEqual((await nouns('sessions', 'of')).map((c) => c.value), ['office']);
    assert.deepEqual((await nouns('running', '')).map((c) => c.value), ['office']);
    assert.deepEqual(await nouns('nonsense', ''), []);
    assert.equal(formatCandidates(await nouns('sessions', 'o')), 'office\tsession (running)\n');
    process.env.TUND_CONFIG_DIR = path.join(dir, 'missing');
    assert.deepEqual(await nouns('sessions', ''), []);
  } finally {
    process.env.TUND_CONFIG_DIR = saved.c;
    process.env.TUND_RUN_DIR = saved.r;
    if (saved.c === undefined) delete process.env.TUND_CONFIG_DIR;
    if (saved.r === undefined) delete process.env.TUND_RUN_DIR;
  }
});
