// Dynamic nouns for shell completion (`tunctl __complete KIND PREFIX`): session names from
// CONFIG_DIR/*.conf, TUN/TAP devices and Linux bridges of the current network namespace, running
// sessions from RUN_DIR/*.sock. Every function is quiet: on any error it returns what it has (maybe nothing).
import { readdir } from 'node:fs/promises';
import { runChild } from '../child.js';
import { NAME_PATTERN } from '../names.js';
import { configDir, runDir } from '../paths.js';

export const NOUN_KINDS = ['sessions', 'devices', 'running', 'bridges'] as const;
export type NounKind = (typeof NOUN_KINDS)[number];

export interface Candidate {
  value: string;
  description: string | null;
}

async function stems(dir: string, suffix: string): Promise<string[]> {
  try {
    return (await readdir(dir))
      .filter((f) => f.endsWith(suffix))
      .map((f) => f.slice(0, -suffix.length))
      .filter((n) => NAME_PATTERN.test(n))
      .sort();
  } catch {
    return [];
  }
}

interface IpLink {
  ifname?: string;
  linkinfo?: { info_kind?: string; info_data?: { type?: string } };
}

/** Interfaces whose `ip -d link` info_kind is `infoKind` (tun, bridge), described by `describe`. */
async function linksOfKind(infoKind: string, describe: (l: IpLink) => string): Promise<Candidate[]> {
  const { stdout, code } = await runChild('ip', ['-j', '-d', 'link', 'show'], { output: 'collect', timeoutMs: 10_000 });
  if (code !== 0) return [];
  try {
    const links = JSON.parse(stdout) as IpLink[];
    return links
      .filter((l) => l.ifname && l.linkinfo?.info_kind === infoKind)
      .map((l) => ({ value: l.ifname!, description: describe(l) }))
      .sort((a, b) => a.value.localeCompare(b.value));
  } catch {
    return [];
  }
}

export async function nouns(kind: string, prefix: string): Promise<Candidate[]> {
  let all: Candidate[];
  switch (kind) {
    case 'sessions': {
      const running = new Set(await stems(runDir(), '.sock'));
      all = (await stems(configDir(), '.conf')).map((n) => ({ value: n, description: running.has(n) ? 'session (running)' : 'session' }));
      break;
    }
    case 'running':
      all = (await stems(runDir(), '.sock')).map((n) => ({ value: n, description: 'running session' }));
      break;
    case 'devices':
      all = await linksOfKind('tun', (l) => `${l.linkinfo?.info_data?.type ?? 'tun'} device`);
      break;
    case 'bridges':
      all = await linksOfKind('bridge', () => 'bridge');
      break;
    default:
      all = [];
  }
  return all.filter((c) => c.value.startsWith(prefix));
}

/** One candidate per line, `value<TAB>description` (cobra's __complete format). */
export function formatCandidates(list: Candidate[]): string {
  return list.map((c) => (c.description ? `${c.value}\t${c.description}\n` : `${c.value}\n`)).join('');
}
