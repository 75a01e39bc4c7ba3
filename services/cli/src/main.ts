import { processIO, type CommandIO } from './command-io';
import { analyze } from './commands/analyze';
import { db } from './commands/db';
import { parse } from './commands/parse';
import { serve } from './commands/serve';
import { tenant } from './commands/tenant';

const USAGE = `usage: dmarc <command>

  serve SERVICE     run one service in the foreground (ingestion, parsing, dns, aggregation,
                    cache-invalidator, api); configuration from the environment:
                    KAFKA_BROKERS, REDIS_URL, DATABASE_URL, DNS_UPSTREAM, PORT, LOG_LEVEL
  parse FILE...     print each report in FILEs (XML, gzip, zip, e-mail, JSON) as one JSON line
  analyze DIR...    the whole flow in one process (no Kafka, Redis or server) and a per-domain
                    summary table (--json for JSON)
  db migrate        apply the SQL migrations to DATABASE_URL
  tenant create NAME --tier starter|business|enterprise
                    create a tenant and its first API key; prints one JSON line
                    {"id","name","tier","apiKey"} (DATABASE_URL)
  help              this text`;

/** Entry of the `dmarc` command; returns the exit code. */
export async function main(argv: string[], io: CommandIO = processIO()): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest, io);
    case 'parse':
      return parse(rest, io);
    case 'analyze':
      return analyze(rest, io);
    case 'db':
      return db(rest, io);
    case 'tenant':
      return tenant(rest, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return command === undefined ? 64 : 0;
    default:
      io.err(`dmarc: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 64;
  }
}
