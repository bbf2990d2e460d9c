// Small helpers shared by the tunroute command classes (option parsing, callbacks).
import { UsageFailure } from '../errors.js';
import { checkName } from '../names.js';
import type { BaseCommand } from '../cli/base.js';
import type { RouteOptions } from './engine.js';
import type { TableRef } from './state.js';

/** echo/warn/dry-run wiring of a command. In dry-run the plan is printed even with --quiet. */
export function routeOptionsFor(cmd: BaseCommand, dryRun: boolean): RouteOptions {
  return {
    dryRun,
    echo: (line) => (dryRun ? cmd.context.stderr.write(`[#] ${line}\n`) : cmd.echo(line)),
    warn: (message) => cmd.warn(message),
  };
}

/** --table: main, a number 1-4294967295 (not 253 default / 255 local), or auto when allowed. */
export function parseTableOption(text: string | undefined, allowAuto: boolean): TableRef | 'auto' | undefined {
  if (text === undefined) return undefined;
  const v = text.trim().toLowerCase();
  if (v === 'main' || v === '254' || (v === 'off' && !allowAuto)) return 'main';
  if (v === 'auto' && allowAuto) return 'auto';
  if (/^\d{1,10}$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= 4294967295 && n !== 253 && n !== 255) return n;
  }
  throw new UsageFailure(
    `--table ${JSON.stringify(text)}: not a usable routing table (expected ${allowAuto ? 'auto, ' : ''}main or a number 1-4294967295 other than 253 and 255)`,
  );
}

/** --metric: 0-4294967295. */
export function parseMetricOption(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (/^\d{1,10}$/.test(text.trim()) && Number(text) <= 4294967295) return Number(text);
  throw new UsageFailure(`--metric ${JSON.stringify(text)}: out of range (expected 0-4294967295)`);
}

/** Splits repeated and comma-separated list options. */
export function listOption(values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

export function sessionName(name: string): string {
  return checkName(name, 'session');
}
