// tunauth probe NAME: only the handshake against the session's peer(s), then stop. A VTun session
// (tund.conf) authenticates and reports the flags the server sent; a WireGuard session (a wg-quick
// file, one with [Interface]) sends a handshake initiation to each peer's Endpoint and reports
// whether and how fast it answered. Exactly how it failed, otherwise, and how long it took.
import fs from 'node:fs';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { isName } from '../../core/cli/validators.js';
import { ConfigFailure, TundError, UsageFailure } from '../../core/errors.js';
import { loadSessionConfig } from '../../core/config/load.js';
import { checkName } from '../../core/names.js';
import { sessionConfigPath } from '../../core/paths.js';
import { formatEndpoint } from '../../core/net.js';
import { probe, type ProbeOutcome } from '../../core/auth/probe.js';
import { describeFlags } from '../../core/vtun/flags.js';
import { readSessionSecret } from '../../core/auth/session.js';
import { isWgQuickText, loadWgQuickFile, readWgKeys } from '../../core/wireguard/conf.js';
import { keyFromBase64 } from '../../core/wireguard/keys.js';
import { probeWireGuard, type WgProbeOutcome } from '../../core/wireguard/probe.js';

const WG_HINTS: Record<Exclude<WgProbeOutcome, 'ok'>, string> = {
  no_answer: "a WireGuard peer stays silent to keys it does not know: check that it has this session's public key (tunauth pubkey) as a [Peer], the Endpoint, and firewalls on the way",
  refused: 'nothing listens on that UDP port: is the peer running, and is Endpoint right?',
  unreachable: 'check the name and the network path to the Endpoint',
  bad_response: 'both sides must set the same PresharedKey for this pair (or none)',
};

const HINTS: Record<Exclude<ProbeOutcome, 'ok'>, (name: string, file: string) => string> = {
  refused: (_n, file) => `is the server running, and is [Session] Endpoint in ${file} right?`,
  unreachable: (_n, file) => `check the network path and [Session] Endpoint in ${file}`,
  timeout: () => 'something accepted the connection but sent nothing in time: a firewall, or not a VTun server?',
  auth_failed: (name) => `check that both sides have the same secret ("tunauth passwd ${name}") and session name ([Session] Host), and the server's multi setting`,
  closed: () => 'the server ended the exchange early; see its log',
  protocol: (_n, file) => `is [Session] Endpoint in ${file} a VTun server?`,
};

export class AuthProbeCommand extends BaseCommand {
  static override paths = [['probe']];

  static override usage = Command.Usage({
    category: 'Checks',
    description: "try the handshake against a session's peer",
    details: `
      A VTun session: connects to the session's \`[Session] Endpoint\`, authenticates with its secret as \`[Session] Host\`, reports the flags the server sent (transport, tunnel type, compression, cipher, keep-alive) and how long it took, then closes the connection at once. A VTun server answers \`ERR\` both for a wrong secret and for a session that is already connected when its \`multi\` setting is \`no\`; probe cannot tell these apart.

      A WireGuard session (a wg-quick file): sends a handshake initiation with the session's private key to the \`Endpoint\` of each \`[Peer]\` (or only the one named by \`--peer\`), from an ephemeral UDP port, and reports whether it answered with a response that authenticates, and how fast. Nothing else is sent. A peer that does not know this session's public key stays silent: "no answer".

      Neither creates a device. Exit status: 0 every probed peer answered, 1 failure (no answer, refused, unreachable, authentication), 2 usage, 77 the secret cannot be read, 78 bad config.
    `,
    examples: [
      ['Check that session office can authenticate (VTun) or that its peers answer (WireGuard)', '$0 probe office'],
      ['The same as JSON, giving up after 5 seconds', '$0 probe office --json --timeout 5'],
      ['Only one peer of a WireGuard session', '$0 probe hub --peer lfPskw1HAwH+f8VdtScRDtryiB2zq95qEPVBWWImWDc='],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the result as one JSON document' });

  timeout = placeholder('SECONDS', Option.String('--timeout', {
    description: 'Seconds to wait: VTun, for the connection and each server message (default: [Session] Timeout); WireGuard, for an answer (default: 5)',
    validator: t.cascade(t.isNumber(), [t.isInInclusiveRange(0.1, 3600)]),
  }));

  peer = placeholder('KEY', Option.String('--peer', {
    description: 'WireGuard: probe only the [Peer] with this public key (base64)',
  }));

  name = Option.String({ name: 'name', validator: isName });

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const file = sessionConfigPath(this.name);
    let text: string | null = null;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      // the loader below says exactly what is wrong with the file
    }
    if (text !== null && isWgQuickText(text)) return this.probeWireGuard(file);
    if (this.peer !== undefined) throw new UsageFailure(`${this.name}: --peer is for WireGuard sessions (this one is VTun)`);
    const { config, warnings } = await loadSessionConfig(this.name);
    for (const w of warnings) this.warn(`${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);
    const endpoint = config.session.endpoint;
    if (!endpoint) {
      throw new ConfigFailure([{ file: config.file, line: 0, message: 'no [Session] Endpoint (probe needs the address of the server)' }], 'add "Endpoint = HOST:PORT" to [Session]');
    }
    const password = await readSessionSecret(config);
    const timeout = this.timeout ?? config.session.timeout;
    const result = await probe({
      host: endpoint.host,
      port: endpoint.port,
      session: config.session.host,
      password,
      sslAuth: config.session.sslAuth,
      timeout,
    });
    password.fill(0);
    const endpointText = formatEndpoint(endpoint.host, endpoint.port);
    if (this.json) {
      const doc = {
        format: 1,
        session: config.name,
        host: config.session.host,
        endpoint: endpointText,
        address: result.address,
        result: result.outcome,
        message: result.message,
        greeting: result.greeting,
        flags: result.flags,
        elapsed_ms: result.elapsedMs,
      };
      this.printJson(doc);
      return result.outcome === 'ok' ? 0 : 1;
    }
    if (result.outcome !== 'ok') {
      throw new TundError(`${config.name}: ${result.message} (after ${result.elapsedMs} ms)`, { hint: HINTS[result.outcome](config.name, config.file) });
    }
    const f = result.flags!;
    this.out(
      [
        `session: ${config.name}`,
        `  result: ok (authenticated as "${config.session.host}")`,
        `  endpoint: ${endpointText}${result.address && result.address !== endpointText ? ` (${result.address})` : ''}`,
        `  server: ${result.greeting ?? 'unknown'}`,
        `  flags: ${f.raw}`,
        `  transport: ${f.transport}`,
        `  type: ${f.type === 'ether' ? 'ether (tap)' : f.type}`,
        `  compression: ${f.compression === 'none' ? 'none' : `${f.compression} level ${f.compression_level}`}`,
        `  cipher: ${f.cipher}`,
        `  keepalive: ${f.keepalive ? 'on' : 'off'}`,
        ...(f.client_rate_kbps !== null ? [`  client rate: ${f.client_rate_kbps} kbit/s`] : []),
        `  time: ${result.elapsedMs} ms`,
      ].join('\n'),
    );
    if (this.verbose) this.note(`${config.name}: ${describeFlags(f)}`);
    return 0;
  }

  private async probeWireGuard(file: string): Promise<number> {
    const { config, warnings } = await loadWgQuickFile(file, this.name);
    for (const w of warnings) this.warn(`${w.file}${w.line ? `:${w.line}` : ''}: ${w.message}`);
    let peers = config.peers;
    if (this.peer !== undefined) {
      const wanted = keyFromBase64(this.peer);
      if (!wanted) throw new UsageFailure(`${this.name}: --peer "${this.peer}" is not a public key (expected 44 characters of base64)`);
      peers = peers.filter((p) => p.publicKey === this.peer);
      if (peers.length === 0) {
        throw new UsageFailure(`${this.name}: no [Peer] with public key "${this.peer}" in ${file}`, `the peers are: ${config.peers.map((p) => p.publicKey).join(', ') || 'none'}`);
      }
    }
    const withEndpoint = peers.filter((p) => p.endpoint);
    if (withEndpoint.length === 0) {
      throw new ConfigFailure(
        peers.map((p) => ({ file, line: p.line, message: `[Peer] ${p.publicKey} has no Endpoint (probe needs the address of the peer)` })),
        'add "Endpoint = HOST:PORT" to the [Peer]',
      );
    }
    for (const p of peers.filter((x) => !x.endpoint)) this.note(`${this.name}: peer ${p.publicKey} has no Endpoint, not probed`);
    const keys = await readWgKeys(config);
    if (!keys.privateKey) {
      throw new ConfigFailure([{ file, line: config.interface.line, message: 'no PrivateKey or PrivateKeyFile in [Interface] (and no credential)' }], `make one with "tunauth genkey --output /etc/tund/keys/${this.name}.key"`);
    }
    const timeoutMs = (this.timeout ?? 5) * 1000;
    const results = await Promise.all(
      withEndpoint.map(async (p) => {
        const index = config.peers.indexOf(p);
        const r = await probeWireGuard({
          privateKey: keys.privateKey!,
          peerPublicKey: keyFromBase64(p.publicKey)!,
          presharedKey: keys.presharedKeys[index] ?? null,
          endpoint: p.endpoint!,
          timeoutMs,
        });
        return { peer: p, result: r };
      }),
    );
    keys.privateKey.fill(0);
    for (const k of keys.presharedKeys) k?.fill(0);
    const allOk = results.every((r) => r.result.outcome === 'ok');
    if (this.json) {
      const doc = {
        format: 1,
        session: config.name,
        protocol: 'wireguard',
        peers: results.map(({ peer, result }) => ({
          public_key: peer.publicKey,
          endpoint: formatEndpoint(peer.endpoint!.host, peer.endpoint!.port),
          address: result.address,
          result: result.outcome,
          message: result.message,
          elapsed_ms: result.elapsedMs,
          initiations: result.initiations,
          cookie: result.cookie,
        })),
      };
      this.printJson(doc);
      return allOk ? 0 : 1;
    }
    const lines = [`session: ${config.name} (WireGuard)`];
    for (const { peer, result } of results) {
      const endpoint = formatEndpoint(peer.endpoint!.host, peer.endpoint!.port);
      lines.push(
        `peer: ${peer.publicKey}`,
        `  endpoint: ${endpoint}${result.address && result.address !== endpoint ? ` (${result.address})` : ''}`,
        `  result: ${result.outcome === 'ok' ? 'ok' : result.outcome.replace('_', ' ')}`,
        `  ${result.outcome === 'ok' ? 'time' : 'why'}: ${result.outcome === 'ok' ? `${result.elapsedMs} ms${result.cookie ? ' (under load: after a cookie reply)' : ''}` : result.message}`,
      );
    }
    this.out(lines.join('\n'));
    if (allOk) return 0;
    const failed = results.filter((r) => r.result.outcome !== 'ok');
    throw new TundError(`${config.name}: ${failed.length} of ${results.length} peer(s) did not answer properly`, { hint: WG_HINTS[failed[0]!.result.outcome as Exclude<WgProbeOutcome, 'ok'>] });
  }
}
