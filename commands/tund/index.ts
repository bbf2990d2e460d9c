// tund: runs one session (tund NAME), writes new session files (tund new, tund peer add),
// validates and imports them. A session process (`tund NAME`, `tund --instance NAME`) loads only
// what its session needs (session-entry.ts); every other command line goes to the commands of
// cli.ts.
import { sessionInvocation } from './session-args.js';

const invocation = sessionInvocation(process.argv.slice(2));
if (invocation) {
  const { runSessionProcess } = await import('./session-entry.js');
  await runSessionProcess(invocation);
} else {
  const [{ main }, { TUND }] = await Promise.all([import('../../core/cli/main.js'), import('./cli.js')]);
  main(TUND);
}
