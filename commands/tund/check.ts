// tund check NAME | tund check --file PATH: validate a session file (and its secret) without
// touching the system; every problem as `file:line: problem`, exit 78 when there is any.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { ConfigFailure, formatConfigProblem, type ConfigProblem } from '../../core/errors.js';
import { ConfigLoadFailure, loadSessionNamedOrFile, readSecret, type SessionConfig } from '../../core/config/index.js';
import { summarize } from '../../core/config/summary.js';
import { serviceReadWarning } from '../../core/auth/account.js';
import { locateSecret, needsSecret } from '../../core/config/load.js';
import { proxyCredentialFile, readProxyCredentials } from '../../core/websocket/dial.js';
import { servedDnsWarning } from '../../core/session/served-dns.js';
import { readFile } from 'node:fs/promises';

export class CheckSessionCommand extends BaseCommand {
  static override paths = [['check']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'validate a session configuration without touching the system',
    details: `
      Reads \`/etc/tund/NAME.conf\` (the directory is \`$TUND_CONFIG_DIR\` when set), or the file given with \`--file\`, validates every key and the secret file (present, mode 0600) and, with \`ProxyUser\`, the proxy's password file, and prints every problem at once as \`file:line: problem\` on stderr.

      Exits 0 and prints a one-line summary on stdout when the session is fine, 78 when there is any problem. Warnings (\`tund: warning: ...\`) do not change the exit status.
    `,
    examples: [
      ['Check the session "office"', '$0 check office'],
      ['Check a file before installing it', '$0 check --file ./office.conf'],
    ],
  });

  name = Option.String({ required: false, name: 'NAME' });

  file = placeholder('FILE', Option.String('--file', {
    description: 'Check this file instead of $TUND_CONFIG_DIR/NAME.conf (NAME is the file name without .conf)',
  }));

  async run(): Promise<number> {
    const problems: ConfigProblem[] = [];
    let config: SessionConfig | null = null;
    let hint: string | undefined;
    try {
      const loaded = await loadSessionNamedOrFile('check', this.name, this.file);
      for (const w of loaded.warnings) this.warn(formatConfigProblem(w));
      config = loaded.config;
    } catch (error) {
      if (!(error instanceof ConfigFailure)) throw error;
      if (error instanceof ConfigLoadFailure) for (const w of error.warnings) this.warn(formatConfigProblem(w));
      problems.push(...error.problems);
      hint = error.hint;
    }
    if (config) {
      try {
        (await readSecret(config)).fill(0);
      } catch (error) {
        if (!(error instanceof ConfigFailure)) throw error;
        problems.push(...error.problems);
        hint = error.hint;
      }
      // the HTTP proxy's password file (ProxyUser), checked as the session reads it for a dial
      const proxy = proxyCredentialFile(config);
      try {
        if (proxy) await readProxyCredentials(config.name, proxy.user, proxy.file);
      } catch (error) {
        if (!(error instanceof ConfigFailure)) throw error;
        problems.push(...error.problems);
        hint ??= error.hint;
      }
    }
    if (config) {
      // fine for root, fatal for tund@.service: files from a version that ran sessions as root
      const files = [config.file];
      if (!config.wireguard && needsSecret(config)) {
        const secret = await locateSecret(config);
        if (!secret.credential) files.push(secret.file);
      }
      for (const f of files) {
        const warning = serviceReadWarning(f);
        if (warning) this.warn(warning);
      }
      const served = servedDnsWarning(config, await readFile(config.file, 'utf8').catch(() => ''));
      if (served) this.warn(formatConfigProblem(served));
    }
    if (problems.length > 0) throw new ConfigFailure(problems, hint);
    this.out(`${config!.name}: ok (${summarize(config!)})`);
    return 0;
  }
}
