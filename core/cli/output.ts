// How commands print: JSON pretty-printed for a person at a terminal and compact for a pipe, and
// colour only on a terminal, never with NO_COLOR, forced either way with TUND_COLOR=always|never.
// Every command prints through here, so all four tools behave alike.

export interface OutputStream {
  isTTY?: boolean;
}

/** Whether text written to `stream` may carry colour. */
export function colorEnabled(stream: OutputStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const forced = env.TUND_COLOR?.toLowerCase();
  if (forced === 'always') return true;
  if (forced === 'never') return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true;
}

export interface Palette {
  enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
}

const sgr = (on: string, off: string) => (text: string) => `\x1b[${on}m${text}\x1b[${off}m`;
const plain = (text: string) => text;

export function palette(enabled: boolean): Palette {
  if (!enabled) return { enabled, bold: plain, dim: plain, green: plain, yellow: plain, red: plain };
  return { enabled, bold: sgr('1', '22'), dim: sgr('2', '22'), green: sgr('32', '39'), yellow: sgr('33', '39'), red: sgr('31', '39') };
}

/** One JSON document and a newline: indented on a terminal, one line otherwise (for jq and logs). */
export function jsonText(value: unknown, stream: OutputStream): string {
  return `${stream.isTTY === true ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`;
}
