// `tund NAME` as a session process runs it (index.ts decides): the session's own modules only,
// the same output and exit codes as through the CLI (commands/tund/run.ts).
import { failureText } from '../../core/cli/failure.js';
import { stderrIo } from '../../core/cli/process-io.js';
import { runSessionByName } from '../../core/session/index.js';
import type { SessionInvocation } from './session-args.js';

export async function runSessionProcess(invocation: SessionInvocation): Promise<void> {
  try {
    process.exitCode = await runSessionByName(invocation.name, stderrIo('tund', process.stderr, invocation.quiet));
  } catch (error) {
    const failure = failureText('tund', error, invocation.verbose);
    process.stderr.write(failure.text);
    process.exitCode = failure.exitCode;
  }
}
