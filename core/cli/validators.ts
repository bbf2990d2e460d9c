// typanion validators shared by the commands: ports, MTU, CIDRs, names, durations.
import * as t from 'typanion';
import { nameProblem } from '../names.js';
import { parseDuration } from '../duration.js';
import { MAC_EXAMPLE, MTU_MAX, MTU_MIN, parseMac, parsePrefix } from '../net.js';

/** typanion's own pushError is not exported: record the problem the way it does. */
function fail(state: t.ValidationState | undefined, message: string): false {
  state?.errors?.push(`${state.p ?? '.'}: ${message}`);
  return false;
}

const printable = (value: unknown): string => JSON.stringify(value) ?? String(value);

export const isMtu = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(MTU_MIN, MTU_MAX)]);
export const isPort = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 65535)]);
export const isSeconds = t.cascade(t.isNumber(), [t.isInInclusiveRange(0, 86400)]);

export const isCidr = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value !== 'string') return fail(state, `expected a string (got ${printable(value)})`);
    const parsed = parsePrefix(value);
    if (!parsed.ok) return fail(state, `expected an address with prefix length such as 198.18.0.1/24 (got ${JSON.stringify(value)}: ${parsed.problem})`);
    return true;
  },
});

export const isAddress = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value !== 'string') return fail(state, `expected a string (got ${printable(value)})`);
    const parsed = parsePrefix(value);
    if (!parsed.ok || value.includes('/')) return fail(state, `expected an IP address such as 198.18.0.2 (got ${JSON.stringify(value)})`);
    return true;
  },
});

export const isName = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value !== 'string') return fail(state, `expected a string (got ${printable(value)})`);
    const problem = nameProblem(value);
    if (problem) return fail(state, `expected a name of 1-15 letters, digits or _ = + . - (got ${JSON.stringify(value)}: ${problem})`);
    return true;
  },
});

export const isDuration = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value !== 'string' || parseDuration(value) === null) {
      return fail(state, `expected seconds, or a number with ms, s, m or h such as 30s (got ${printable(value)})`);
    }
    return true;
  },
});

export const isMac = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value !== 'string') return fail(state, `expected a string (got ${printable(value)})`);
    const parsed = parseMac(value);
    if (!parsed.ok) return fail(state, `expected a unicast Ethernet address such as ${MAC_EXAMPLE} (got ${JSON.stringify(value)}, which ${parsed.problem})`);
    return true;
  },
});
