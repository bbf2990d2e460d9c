// Names of sessions and devices. A session name is also its unit instance, its config file stem and
// (by default) its interface name, so it follows the kernel's interface-name rules (as wg-quick does).
import { UsageFailure } from './errors.js';

export const NAME_PATTERN = /^[a-zA-Z0-9_=+.-]{1,15}$/;

export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > 15) return `is ${name.length} characters long (expected 1-15)`;
  if (name === '.' || name === '..') return 'is not a usable name';
  if (!NAME_PATTERN.test(name)) return 'has characters other than letters, digits and _ = + . -';
  return undefined;
}

/** Throws a usage error (exit 2) before anything touches the system. */
export function checkName(name: string, what: 'device' | 'session' = 'device'): string {
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new UsageFailure(`invalid ${what} name ${JSON.stringify(name)}: ${problem}`);
  }
  return name;
}
