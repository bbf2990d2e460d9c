// tunauth probe NAME: only the VTun handshake against the session's peer, then close. Reports
// success with the flags the server sent, or exactly how it failed, and how long it took.
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { isName } from '../../core/cli/validators.js';
import { ConfigFailure, TundError } from '../../core/errors.js';
import { loadSessionConfig } from '../../core/config/load.js';
import { checkName } from '../../core/names.js';
import { describeFlags, probe, type ProbeOutcome } from '../../core/auth/probe.js';
import { readSessionSecret } from '../../core/auth/session.js';

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
    description: "try the VTun handshake against a session's peer",
    details: `
      Connects to the session's \`[Session] Endpoint\`, authenticates with its secret as \`[Session] Host\`, reports the flags the server sent (transport, tunnel type, compression, cipher, keep-alive) and how long it took, then closes the connection at once. It creates no device.

      A VTun server answers \`ERR\` both for a wrong secret and for a session that is already connected when its \`multi\` setting is \`no\`; probe cannot tell these apart.

      Exit status: 0 success, 1 failure (refused, unreachable, timeout, authentication), 77 the secret cannot be read, 78 bad config.
    `,
    examples: [
      ['Check that session office can authenticate', '$0 probe office'],
      ['The same as JSON, giving up after 5 seconds', '$0 probe office --json --timeout 5'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the result as one JSON document' });

  timeout = Option.String('--timeout', {
    description: 'Seconds to wait for the connection and for each server message (default: [Session] Timeout)',
    validator: t.cascade(t.isNumber(), [t.isInInclusiveRange(0.1, 3600)]),
  });

  name = Option.String({ name: 'name', validator: isName });

  async run(): Promise<number> {
    checkName(this.name, 'session');
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
    const endpointText = endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
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
      this.out(JSON.stringify(doc, null, (this.context.stdout as NodeJS.WriteStream).isTTY ? 2 : undefined));
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
}
