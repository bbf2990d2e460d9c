// tunauth check [NAME]: missing or unsafe secrets of one or all sessions, each with the exact
// command that fixes it. Exit 1 when something is wrong.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { isName } from '../../core/cli/validators.js';
import { ConfigFailure, formatConfigProblem } from '../../core/errors.js';
import { listSessions } from '../../core/config/load.js';
import { checkName } from '../../core/names.js';
import { configDir } from '../../core/paths.js';
import { checkSecretFile, shellQuote, type SecretProblem } from '../../core/auth/secret.js';
import { defaultSecretFile, findSessionSecret } from '../../core/auth/session.js';

interface SessionReport {
  session: string;
  secret_file: string;
  ok: boolean;
  problems: { kind: string; message: string; fix: string }[];
}

export class AuthCheckCommand extends BaseCommand {
  static override paths = [['check']];

  static override usage = Command.Usage({
    category: 'Checks',
    description: 'find missing or unsafe secrets',
    details: `
      Checks the secret file of one session, or of every session in the configuration directory: it must exist, not be empty, be a regular file, have mode 0600 and be owned by root. Each problem comes with the command that fixes it.

      Exit status: 0 when everything is fine, 1 when something is wrong.
    `,
    examples: [
      ['Check every session', '$0 check'],
      ['Check session office, as JSON', '$0 check office --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the findings as one JSON document' });

  name = Option.String({ name: 'name', required: false, validator: isName });

  async run(): Promise<number> {
    const names = this.name !== undefined ? [checkName(this.name, 'session')] : await listSessions();
    const reports: SessionReport[] = [];
    for (const name of names) {
      let file = defaultSecretFile(name);
      let problems: SecretProblem[];
      try {
        file = (await findSessionSecret(name)).file;
        problems = checkSecretFile(name, file);
      } catch (error) {
        if (!(error instanceof ConfigFailure)) throw error;
        problems = [{
          session: name,
          file,
          kind: 'unreadable',
          message: `the session's config is invalid: ${error.problems.map(formatConfigProblem).join('; ')}`,
          fix: `tund check ${shellQuote(name)}`,
        }];
      }
      reports.push({ session: name, secret_file: file, ok: problems.length === 0, problems: problems.map(({ kind, message, fix }) => ({ kind, message, fix })) });
    }
    const bad = reports.some((r) => !r.ok);
    if (this.json) {
      this.printJson({ format: 1, config_dir: configDir(), ok: !bad, sessions: reports });
      return bad ? 1 : 0;
    }
    if (reports.length === 0) {
      this.note(`no sessions in ${configDir()}`);
      return 0;
    }
    const lines: string[] = [];
    for (const r of reports) {
      if (r.ok) {
        lines.push(`${r.session}: ok (${r.secret_file})`);
        continue;
      }
      for (const p of r.problems) {
        lines.push(`${r.session}: ${r.secret_file}: ${p.message}`);
        lines.push(`  fix: ${p.fix}`);
      }
    }
    this.out(lines.join('\n'));
    return bad ? 1 : 0;
  }
}
