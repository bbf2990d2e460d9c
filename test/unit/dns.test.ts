// Unit tests of core/dns: domains per mode, backend detection, the resolvectl / resolvconf calls.
import { test, describe, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyDns, detectBackend, effectiveDomains, planDns, removeDns, resolvconfText } from '../../core/dns/index.js';
import { SystemRunner, type CommandResult, type ProcessRunner } from '../../core/ip.js';

class Recorder implements ProcessRunner {
  calls: { line: string; input: string | undefined }[] = [];
  constructor(private readonly answer: (line: string) => CommandResult = () => ({ stdout: '', stderr: '', exitCode: 0 })) {}
  async run(file: string, args: string[], options: { echo: ((line: string) => void) | undefined; input?: string }): Promise<CommandResult> {
    const line = [file, ...args].join(' ');
    this.calls.push({ line, input: options.input });
    return this.answer(line);
  }
}

describe('dns', () => {
  const saved = { ...process.env };
  const dirs: string[] = [];
  afterEach(() => {
    process.env = { ...saved };
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test('split: routing domains; full: ~. first and default-route', () => {
    assert.deepEqual(effectiveDomains({ link: 't', servers: [], domains: ['corp.example', '~lab.example'], mode: 'split' }), ['~corp.example', '~lab.example']);
    assert.deepEqual(effectiveDomains({ link: 't', servers: [], domains: ['corp.example'], mode: 'full' }), ['~.', 'corp.example']);
    const full = planDns('resolved', { link: 'tr0', servers: ['198.18.0.53'], domains: [], mode: 'full' });
    assert.deepEqual(full, { backend: 'resolved', link: 'tr0', servers: ['198.18.0.53'], domains: ['~.'], defaultRoute: true, record: null });
    const split = planDns('resolved', { link: 'tr0', servers: ['198.18.0.53'], domains: ['corp.example'], mode: 'split' });
    assert.equal(split.defaultRoute, false);
    const rc = planDns('resolvconf', { link: 'tr0', servers: ['198.18.0.53', '198.18.0.54'], domains: ['corp.example'], mode: 'full' });
    assert.equal(rc.record, 'tr0.tund');
    assert.equal(resolvconfText(rc), 'nameserver 198.18.0.53\nnameserver 198.18.0.54\nsearch corp.example\n');
  });

  test('resolvectl calls for a full tunnel, revert on removal', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tunroute-dns-'));
    dirs.push(dir);
    process.env.TUNROUTE_RESOLVED_DIR = dir;
    const rec = new Recorder();
    const system = new SystemRunner({ runner: rec });
    const s = planDns('resolved', { link: 'tr0', servers: ['198.18.0.53'], domains: ['corp.example'], mode: 'full' });
    await applyDns(system, s);
    await removeDns(system, s);
    assert.deepEqual(rec.calls.map((c) => c.line), [
      'resolvectl dns tr0 198.18.0.53',
      'resolvectl domain tr0 ~. corp.example',
      'resolvectl default-route tr0 yes',
      'resolvectl revert tr0',
    ]);
  });

  test('resolvconf record goes through stdin; removal is -d RECORD -f', async () => {
    const bin = mkdtempSync(path.join(os.tmpdir(), 'tunroute-bin-'));
    dirs.push(bin);
    writeFileSync(path.join(bin, 'resolvconf'), '#!/bin/sh\nexit 0\n');
    chmodSync(path.join(bin, 'resolvconf'), 0o755);
    process.env.PATH = `${bin}:${process.env.PATH}`;
    const rec = new Recorder();
    const system = new SystemRunner({ runner: rec });
    const s = planDns('resolvconf', { link: 'tr0', servers: ['198.18.0.53'], domains: ['~corp.example'], mode: 'split' });
    await applyDns(system, s);
    await removeDns(system, s);
    assert.deepEqual(rec.calls, [
      { line: 'resolvconf -a tr0.tund', input: 'nameserver 198.18.0.53\nsearch corp.example\n' },
      { line: 'resolvconf -d tr0.tund -f', input: undefined },
    ]);
  });

  test('a failure as a user other than root says that DNS needs root; as root the error is unchanged', async () => {
    const rec = new Recorder(() => ({ stdout: '', stderr: 'resolvconf: Error: /run/resolvconf/interface either does not exist or is not a directory', exitCode: 1 }));
    const system = new SystemRunner({ runner: rec });
    const s = planDns('resolvconf', { link: 'tr0', servers: ['198.18.0.53'], domains: [], mode: 'split' });
    const asRoot = await applyDns(system, s).then(() => null, (e: Error) => e);
    assert.ok(asRoot instanceof Error);
    assert.doesNotMatch(asRoot.message, /not root/);
    const getuid = process.getuid;
    process.getuid = () => 998;
    try {
      await assert.rejects(applyDns(system, s), (e: Error & { hint?: string }) => {
        assert.equal(e.message, `${asRoot.message} (running as uid 998, not root)`);
        assert.match(e.hint ?? "", /^setting DNS with resolvconf needs root: run the session as tund@.service/);
        return true;
      });
    } finally {
      process.getuid = getuid;
    }
  });

  test('detection: resolved when its dir exists and resolvectl answers, else resolvconf, else none', async () => {
    const bin = mkdtempSync(path.join(os.tmpdir(), 'tunroute-bin-'));
    const run = mkdtempSync(path.join(os.tmpdir(), 'tunroute-run-'));
    dirs.push(bin, run);
    for (const tool of ['resolvectl', 'resolvconf']) {
      writeFileSync(path.join(bin, tool), '#!/bin/sh\nexit 0\n');
      chmodSync(path.join(bin, tool), 0o755);
    }
    process.env.PATH = `${bin}:${process.env.PATH}`;
    process.env.TUNROUTE_RESOLVED_DIR = run;
    const answering = new SystemRunner({ runner: new Recorder() });
    assert.equal(await detectBackend(answering), 'resolved');
    const silent = new SystemRunner({ runner: new Recorder(() => ({ stdout: '', stderr: 'Failed to get global data: Could not activate remote peer', exitCode: 1 })) });
    assert.equal(await detectBackend(silent), 'resolvconf');
    process.env.TUNROUTE_RESOLVED_DIR = path.join(run, 'absent');
    assert.equal(await detectBackend(answering), 'resolvconf');
    mkdirSync(path.join(run, 'empty'));
    rmSync(path.join(bin, 'resolvconf'));
    const hostHasOne = ['/usr/sbin/resolvconf', '/sbin/resolvconf', '/usr/bin/resolvconf'].some((p) => existsSync(p));
    if (!hostHasOne) assert.equal(await detectBackend(answering), null);
  });
});
