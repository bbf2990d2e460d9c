// tund import-vtun FILE [--out DIR] [--client SERVER] [--force]: one NAME.conf + NAME.secret per
// session of a vtund.conf.
import { Command, Option } from 'clipanion';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { ConfigFailure, TundError, UsageFailure, errnoOf, formatConfigProblem } from '../../core/errors.js';
import { ExitCode } from '../../core/exit.js';
import { configDir } from '../../core/paths.js';
import { isHostname } from '../../core/config/values.js';
import { parseEndpoint } from '../../core/net.js';
import { importVtundConf, writeImportedSession } from '../../core/vtun/import.js';
import { summarize } from '../../core/config/summary.js';

export class ImportVtunCommand extends BaseCommand {
  static override paths = [['import-vtun']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'convert the sessions of a vtund.conf into tund session files',
    details: `
      Reads a vtund.conf (VTun 3.0) and writes, for every complete session (one with a \`passwd\`), \`NAME.conf\` and \`NAME.secret\` (both mode 0600) into \`--out\` (default \`$TUND_CONFIG_DIR\`, i.e. /etc/tund). \`default { }\` is applied as vtund does; \`options { }\` gives the port and listen address.

      Without \`--client\` the sessions become servers (\`Role = server\`); with \`--client SERVER\` they become clients of SERVER (\`Role = client\`, \`Endpoint = SERVER:PORT\`).

      Commands of \`up { }\` and \`down { }\` that tund does itself (addresses, peer, MTU, routes through the tunnel, bringing the device up or down) become settings; every other command is kept as a \`[Hooks]\` command, with a warning naming its line. vtund's \`%d\` \`%h\` \`%A\` \`%P\` \`%a\` \`%p\` become \`$TUND_DEVICE\` \`$TUND_SESSION\` \`$TUND_LOCAL_ADDR\` \`$TUND_LOCAL_PORT\` \`$TUND_REMOTE_ADDR\` \`$TUND_REMOTE_PORT\`.

      Existing files are never overwritten without \`--force\`. A session that cannot be imported (for example a name longer than 15 characters) is reported and the others are still written. Exit status: 0 when every session was written, 78 when the file or a session is invalid, 1 when files already existed.
    `,
    examples: [
      ['Import the server sessions of /etc/vtund.conf into /etc/tund', '$0 import-vtun /etc/vtund.conf'],
      ['Import them as clients of 198.18.0.2 into a directory to review first', '$0 import-vtun /etc/vtund.conf --client 198.18.0.2 --out ./tund'],
      ['Replace files written by an earlier import', '$0 import-vtun /etc/vtund.conf --force'],
    ],
  });

  file = Option.String({ name: 'FILE' });

  outDir = placeholder('DIR', Option.String('--out', {
    description: 'Directory to write NAME.conf and NAME.secret into (default $TUND_CONFIG_DIR or /etc/tund)',
  }));

  client = placeholder('HOST[:PORT]', Option.String('--client', {
    description: 'Import the sessions as clients of this server, HOST[:PORT] (default port: options { port } or 5000)',
  }));

  force = Option.Boolean('--force', false, {
    description: 'Replace NAME.conf and NAME.secret when they already exist',
  });

  async run(): Promise<number> {
    let client: { host: string; port: number | null } | undefined;
    if (this.client !== undefined) {
      const ep = parseEndpoint(this.client, 0);
      if (!ep.ok || (net.isIP(ep.host) === 0 && !isHostname(ep.host))) {
        const problem = ep.ok ? `"${ep.host}" is not an IP address or host name` : ep.problem;
        throw new UsageFailure(`import-vtun: --client ${JSON.stringify(this.client)}: ${problem} (expected HOST[:PORT], such as 198.18.0.2:5000)`);
      }
      client = { host: ep.host, port: ep.portGiven ? ep.port : null };
    }
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (error) {
      const code = errnoOf(error);
      throw new ConfigFailure([{ file: this.file, line: 0, message: code === 'ENOENT' ? 'no such file' : `cannot read the file (${code ?? String(error)})` }]);
    }
    const dir = path.resolve(this.outDir ?? configDir());
    const result = importVtundConf(text, { file: this.file, client, interfaceAddress });
    for (const w of result.warnings) this.warn(formatConfigProblem(w));
    if (result.problems.length > 0) throw new ConfigFailure(result.problems, 'fix the file (vtund would refuse it too); nothing was written');
    if (result.sessions.length === 0) {
      throw new ConfigFailure([{ file: this.file, line: 0, message: 'no complete session (with a passwd) to import' }]);
    }

    let invalid = 0;
    let existing = 0;
    let written = 0;
    for (const s of result.sessions) {
      const at = (line: number, message: string) => formatConfigProblem({ file: this.file, line, message });
      if (this.verbose > 0) for (const n of s.infos) this.note(at(n.line, n.message));
      for (const n of s.notes) this.note(`note: ${at(n.line, n.message)}`);
      for (const w of s.warnings) this.warn(at(w.line, w.message));
      if (s.conf === null) {
        invalid++;
        for (const e of s.errors) this.note(at(e.line, e.message));
        continue;
      }
      let outcome;
      try {
        outcome = await writeImportedSession(dir, s, this.force);
      } catch (error) {
        throw new TundError(`import-vtun: cannot write into ${dir}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, exitCode: errnoOf(error) === 'EACCES' ? ExitCode.noPermission : ExitCode.failure });
      }
      if (outcome.error) {
        existing++;
        this.note(`${s.name}: ${outcome.error}`);
        continue;
      }
      written++;
      this.out(`${s.name}: wrote ${outcome.conf} and ${outcome.secret} (${summarize(s.config!)})`);
    }
    const failed = invalid + existing;
    if (failed > 0) {
      this.note(`import-vtun: ${written} session${written === 1 ? '' : 's'} written, ${failed} not (see above)`);
      if (existing > 0 && !this.force) this.context.stderr.write('hint: use --force to replace existing files\n');
      return invalid > 0 ? ExitCode.badConfig : ExitCode.failure;
    }
    return ExitCode.ok;
  }
}

/** The first IPv4 (else IPv6) address of a local interface, or null. */
function interfaceAddress(name: string): string | null {
  const list = os.networkInterfaces()[name] ?? [];
  const v4 = list.find((a) => a.family === 'IPv4');
  const any = v4 ?? list.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80'));
  return any?.address ?? null;
}
