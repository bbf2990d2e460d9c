// Reading a secret: from a terminal without echo (raw mode, so nothing typed is shown), or as one
// line from a pipe. The secret stays in Buffers that the caller zeroes after use.
import type { Readable, Writable } from 'node:stream';
import { TundError } from '../errors.js';

export class PromptInterrupted extends TundError {
  constructor() {
    super('interrupted', { exitCode: 130 });
  }
}

interface TtyInput extends Readable {
  isTTY?: boolean;
  setRawMode?: (on: boolean) => unknown;
}

/** Reads one line from a TTY with echo off. Ctrl-C -> PromptInterrupted, Ctrl-D on empty -> null. */
export function readHiddenLine(input: TtyInput, output: Writable, prompt: string): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const bytes: number[] = [];
    output.write(prompt);
    input.setRawMode?.(true);
    const finish = (value: Buffer | null, error?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onEnd = () => finish(bytes.length ? Buffer.from(bytes) : null);
    const onData = (chunk: Buffer) => {
      for (const b of chunk) {
        if (b === 0x0d || b === 0x0a) return finish(Buffer.from(bytes.splice(0)));
        if (b === 0x03) return finish(null, new PromptInterrupted());
        if (b === 0x04) {
          if (bytes.length === 0) return finish(null);
          continue;
        }
        if (b === 0x7f || b === 0x08) {
          bytes.pop();
          continue;
        }
        if (b === 0x15) {
          bytes.length = 0; // Ctrl-U: erase the line
          continue;
        }
        bytes.push(b);
      }
      chunk.fill(0);
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}

/** Reads everything from a non-terminal stdin (bounded), for "one line" secrets. */
export async function readAll(input: Readable, limit = 64 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    if (size > limit) throw new TundError(`the secret on stdin is longer than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** The first line of stdin; a second non-empty line is an error (it would be silently lost). */
export function oneLine(data: Buffer): Buffer {
  let nl = data.indexOf(0x0a);
  if (nl < 0) nl = data.length;
  let line = data.subarray(0, nl);
  if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
  const rest = data.subarray(nl + 1);
  if (nl < data.length && rest.toString('latin1').trim() !== '') {
    throw new TundError('stdin has more than one line (expected the secret alone on one line)');
  }
  return Buffer.from(line);
}
