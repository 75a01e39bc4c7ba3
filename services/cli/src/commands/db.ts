import { loadConfig, defineConfig, url } from '@dmarc/config';
import { runMigrations } from '@dmarc/store';
import type { CommandIO } from '../command-io';

const dbConfig = defineConfig({ DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'], secret: true }) });

export async function db(args: string[], io: CommandIO): Promise<number> {
  if (args[0] !== 'migrate') {
    io.err('usage: dmarc db migrate');
    return 64;
  }
  const config = loadConfig(dbConfig, io.env);
  await runMigrations(config.DATABASE_URL, { info: (msg: string) => io.out(msg) });
  return 0;
}
