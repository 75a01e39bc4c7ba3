import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isReportError, streamReports } from '@dmarc/report-parser';
import type { CommandIO } from '../command-io';

/**
 * `dmarc parse FILE...`: one JSON object per report on stdout, one per line. An aggregate report is
 * written as it streams (header, then records as they are read, then repairs), so a report of a
 * million records never sits whole in memory. A file that cannot be parsed prints `FILE: reason` on
 * stderr; the others still print; the exit code is then 1.
 */
export async function parse(files: string[], io: CommandIO & { write(chunk: string): void }): Promise<number> {
  if (files.length === 0) {
    io.err('usage: dmarc parse FILE...');
    return 64;
  }
  let failed = 0;
  for (const file of files) {
    try {
      await parseFile(file, io);
    } catch (err) {
      failed++;
      io.err(`${file}: ${describe(err)}`);
    }
  }
  return failed === 0 ? 0 : 1;
}

async function parseFile(file: string, io: { write(chunk: string): void }): Promise<void> {
  const info = await stat(file);
  if (!info.isFile()) throw new Error('not a regular file');
  let open = false;
  let first = true;
  try {
    for await (const event of streamReports(createReadStream(file), { filename: file })) {
      switch (event.type) {
        case 'header': {
          const head = JSON.stringify({ ...event.report, file, document: event.document });
          io.write(`${head.slice(0, -1)},"records":[`);
          open = true;
          first = true;
          break;
        }
        case 'records': {
          let out = '';
          for (const record of event.records) {
            out += (first ? '' : ',') + JSON.stringify(record);
            first = false;
          }
          io.write(out);
          break;
        }
        case 'end':
          io.write(`],"recordCount":${event.summary.recordCount},"messageCount":${event.summary.messageCount},"repairs":${JSON.stringify(event.summary.repairs)}}\n`);
          open = false;
          break;
        case 'report':
          io.write(`${JSON.stringify({ ...event.report, file, document: event.document })}\n`);
          break;
      }
    }
  } finally {
    // A report that failed half-way is closed as invalid JSON on its own line, never glued to the next.
    if (open) io.write('\n');
  }
}

function describe(err: unknown): string {
  if (isReportError(err)) return `${err.message} [${err.code}]`;
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file';
  if (e?.code === 'EACCES') return 'permission denied';
  if (e?.code === 'EISDIR') return 'is a directory';
  return e instanceof Error ? e.message.split('\n')[0] : String(err);
}
