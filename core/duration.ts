// Durations on command lines: --timeout 30s and friends.

/** "30", "30s", "500ms", "2m", "1h" -> milliseconds, or null. */
export function parseDuration(text: string): number | null {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|min|h)?$/.exec(text.trim());
  if (!m) return null;
  const v = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? v : unit === 's' ? v * 1000 : unit === 'h' ? v * 3_600_000 : v * 60_000;
  return Number.isFinite(ms) && ms <= 7 * 86_400_000 ? Math.round(ms) : null;
}
