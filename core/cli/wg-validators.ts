// typanion validators for options that write a key of a wg-quick file (tund new, tund peer add):
// each asks the file parser's own validator of that key, so an option and the file it writes
// accept exactly the same values and say the same thing about a bad one.
import * as t from 'typanion';
import { wgSettingProblem, type Section } from '../wireguard/conf.js';

export function isWgSetting(section: Section, key: string, example: string) {
  return t.makeValidator<unknown, string>({
    test: (value, state): value is string => {
      const problem = typeof value === 'string' ? wgSettingProblem(section, key, value) : `expected a string (got ${String(value)})`;
      if (problem === null) return true;
      // the parser's message usually says what it expects; else the option's example does
      state?.errors?.push(`${state.p ?? '.'}: ${problem}${problem.includes('(expected') ? '' : ` (expected ${example})`}`);
      return false;
    },
  });
}
