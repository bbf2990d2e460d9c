// What every config parser's results must look like (tund.conf, wg-quick, vtund.conf).
import type { ConfigProblem } from '../../../core/errors.js';
import { check } from './target.js';

/** Each on a line of the file (0: the file as a whole), with a message, sorted by line. */
export function checkProblems(list: Pick<ConfigProblem, 'line' | 'message'>[], lines: number, what: string): void {
  let last = 0;
  for (const p of list) {
    check(Number.isInteger(p.line) && p.line >= 0 && p.line <= lines, () => `${what} on line ${p.line} of a ${lines}-line file: ${p.message}`);
    check(typeof p.message === 'string' && p.message.length > 0, `${what} without a message`);
    check(p.line >= last, () => `${what}s not sorted by line (${last} then ${p.line})`);
    last = p.line;
  }
}

/** A config parser's result: problems and warnings well placed, a config exactly when no problem. */
export function checkParseResult(r: { config: unknown; problems: ConfigProblem[]; warnings: ConfigProblem[] }, text: string): void {
  const lines = text.split(/\r?\n/).length;
  checkProblems(r.problems, lines, 'problem');
  checkProblems(r.warnings, lines, 'warning');
  check((r.config === null) === r.problems.length > 0, `config ${r.config ? 'given' : 'missing'} with ${r.problems.length} problem(s)`);
}
