// What values an option or positional takes: the part of completion that the command definitions
// do not carry. Dynamic nouns are answered by `tunctl __complete KIND PREFIX`.
import { NOUN_KINDS, type NounKind } from './nouns.js';
import { SESSION_STATES } from '../status/protocol.js';

export type ValueHint =
  | { kind: 'none' } // free text: nothing to offer
  | { kind: 'words'; words: string[] }
  | { kind: 'noun'; noun: NounKind }
  | { kind: 'file' }
  | { kind: 'user' }
  | { kind: 'group' };

const words = (...w: string[]): ValueHint => ({ kind: 'words', words: w });
const noun = (n: NounKind): ValueHint => ({ kind: 'noun', noun: n });

/** Option values, by "binary verb --long" or "binary --long" (any verb). */
const OPTION_HINTS: Record<string, ValueHint> = {
  'tunctl add --owner': { kind: 'user' },
  'tunctl add --group': { kind: 'group' },
  'tunctl up --bridge': noun('bridges'),
  'tunctl wait --state': words(...SESSION_STATES),
  'tunctl --timeout': words('5s', '10s', '30s', '1m'),
  'tund --instance': noun('sessions'),
  'tund --file': { kind: 'file' },
  'tund import-vtun --out': { kind: 'file' },
  'tund --config': { kind: 'file' },
  'tund --output': { kind: 'file' },
  'tunroute --table': words('auto', 'main', 'off'),
};

export function hintForOption(binary: string, verb: string, names: string[], placeholder: string | null = null): ValueHint {
  for (const name of names) {
    const hint = OPTION_HINTS[`${binary} ${verb} ${name}`] ?? OPTION_HINTS[`${binary} ${name}`];
    if (hint) return hint;
  }
  // a placeholder that lists the values (`tun|tap`) is the list to offer
  if (placeholder !== null && /^[a-z0-9-]+(\|[a-z0-9-]+)+$/.test(placeholder)) return words(...placeholder.split('|'));
  if (names.some((n) => /file|path|dir/.test(n))) return { kind: 'file' };
  return { kind: 'none' };
}

/** tunctl verbs whose NAME is a device, a running session or a configured session. */
const TUNCTL_NAME: Record<string, NounKind> = {
  del: 'devices',
  up: 'devices',
  down: 'devices',
  show: 'devices',
  status: 'running',
  watch: 'running',
  wait: 'sessions',
  add: 'sessions', // a device is usually named after its session
};

export function hintForPositional(binary: string, verb: string, index: number, name: string): ValueHint {
  const lower = name.toLowerCase();
  if (/^(shell)$/.test(lower)) return words('bash', 'zsh', 'fish');
  if (/^(kind)$/.test(lower)) return words(...NOUN_KINDS);
  if (/file|path|conf/.test(lower)) return { kind: 'file' };
  if (/^(name|session|instance)$/.test(lower) && index === 0) {
    if (binary === 'tunctl') return noun(TUNCTL_NAME[verb] ?? 'sessions');
    return noun('sessions');
  }
  if (lower === 'device') return noun('devices');
  return { kind: 'none' };
}

/** What `...` (clipanion's rest arguments) takes, where it is not more of the previous positional. */
const REST_HINTS: Record<string, ValueHint> = {
  'tunctl completion': words('tunctl', 'tund', 'tunauth', 'tunroute'),
};

export function hintForRest(binary: string, verb: string): ValueHint | undefined {
  return REST_HINTS[`${binary} ${verb}`];
}
