// typanion validators shared by the commands: ports, MTU, CIDRs, names.
import * as t from 'typanion';
import { nameProblem } from '../names.js';
import { parseCidr } from '../net.js';

export const MTU_MIN = 576; // smallest MTU an IPv4 host must accept
export const MTU_MAX = 65535;

export const isMtu = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(MTU_MIN, MTU_MAX)]);
export const isPort = t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 65535)]);
export const isSeconds = t.cascade(t.isNumber(), [t.isInInclusiveRange(0, 86400)]);

export const isCidr = t.makeValidator<unknown, string>({
  test: (value, state) => {
    if (typeof value !== 'string') return t.pushError(state, `expected a string (got ${t.getPrintable(value)})`);
    const parsed = parseCidr(value);
    if (!parsed.ok) return t.pushError(state, `expected an address with prefix length such as 198.18.0.1/24 (got ${JSON.stringify(value)}: ${parsed.problem})`);
    return true;
  },
});

export const isAddress = t.makeValidator<unknown, string>({
  test: (value, state) => {
    if (typeof value !== 'string') return t.pushError(state, `expected a string (got ${t.getPrintable(value)})`);
    const parsed = parseCidr(value);
    if (!parsed.ok || value.includes('/')) return t.pushError(state, `expected an IP address such as 198.18.0.2 (got ${JSON.stringify(value)})`);
    return true;
  },
});

export const isName = t.makeValidator<unknown, string>({
  test: (value, state) => {
    if (typeof value !== 'string') return t.pushError(state, `expected a string (got ${t.getPrintable(value)})`);
    const problem = nameProblem(value);
    if (problem) return t.pushError(state, `expected a name of 1-15 letters, digits or _ = + . - (got ${JSON.stringify(value)}: ${problem})`);
    return true;
  },
});
