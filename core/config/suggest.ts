// "did you mean" for unknown keys and sections: the closest candidate by edit distance.

/** Damerau-Levenshtein distance (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = [];
  for (let i = 0; i <= s.length; i++) d.push([i, ...Array<number>(t.length).fill(0)]);
  for (let j = 0; j <= t.length; j++) d[0]![j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[s.length]![t.length]!;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.min(3, Math.ceil(Math.max(word.length, best.length) / 3)));
  // a prefix either way (Keep vs Keepalive, tunnel vs tun) also counts
  const [w, b] = [word.toLowerCase(), best.toLowerCase()];
  const prefix = Math.min(w.length, b.length) >= 3 && (b.startsWith(w) || w.startsWith(b));
  return bestDistance <= limit || prefix ? best : undefined;
}

/**
 * The problem with a key that `section` does not have: it belongs in another section (`home`),
 * or the closest key of this section, or a close key of another section (`elsewhere`, when given
 * and nothing here is close), or the list of this section's keys.
 */
export function unknownKeyMessage(
  key: string,
  section: string,
  known: readonly string[],
  home: string | undefined,
  elsewhere?: (key: string) => { key: string; section: string } | undefined,
): string {
  if (home) return `key ${JSON.stringify(key)} does not belong in [${section}] (it is a [${home}] key)`;
  const guess = closest(key, known);
  const other = guess ? undefined : elsewhere?.(key);
  const hint = guess ? `did you mean "${guess}"?` : other ? `did you mean "${other.key}" in [${other.section}]?` : `expected one of ${known.join(', ')}`;
  return `unknown key ${JSON.stringify(key)} in [${section}] (${hint})`;
}
