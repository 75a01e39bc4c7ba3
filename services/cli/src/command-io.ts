import type { Env } from '@dmarc/config';

/** What a command may touch of its process: passed in, so tests run commands in-process. */
export interface CommandIO {
  env: Env;
  out(line: string): void;
  err(line: string): void;
  /** Raw stdout, for output written in pieces (streamed JSON). */
  write(chunk: string): void;
  /** A status line redrawn in place (progress bar); absent when stderr is not a terminal. */
  progress?: (line: string) => void;
}

export const processIO = (): CommandIO => ({
  env: process.env,
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  write: (chunk) => void process.stdout.write(chunk),
  progress: process.stderr.isTTY ? (line) => void process.stderr.write(`\r\x1b[K${line}`) : undefined,
});
