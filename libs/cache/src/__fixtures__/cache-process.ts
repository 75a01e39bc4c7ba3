// Child process for two-process.int.test.ts: one TieredCache on the given Redis, standing for another API
// process. Reads one JSON command per stdin line and prints one JSON line per answer or event:
//   {"event":"ready"}
//   {"event":"invalidated","at":<ms since epoch>,"source":...,"dropped":n}     L1 dropped entries (remote message)
//   {"event":"loading","seq":n}                                                its loader started (then waits delayMs)
//   {"event":"result","seq":n,"value":...,"loaded":bool,"inL1":bool,"stats":{...}}
import { createInterface } from 'node:readline';
import { connectRedisCache } from '../redis-connection';
import { TieredCache } from '../tiered-cache';
import type { CacheScope } from '../cache-key';

interface Args {
  redisUrl: string;
  channel: string;
}

interface Command {
  seq: number;
  op: 'getOrLoad' | 'close';
  scope: CacheScope;
  type: string;
  id: string[];
  /** What the loader returns ("the source"), after delayMs. */
  source?: unknown;
  delayMs?: number;
}

const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as Args;
  const conn = connectRedisCache(args.redisUrl, { channel: args.channel });
  const cache = new TieredCache({
    ...conn,
    closeDrivers: true,
    onInvalidated: (e) => say({ event: 'invalidated', at: Date.now(), source: e.source, dropped: e.dropped }),
  });
  if (!(await conn.ready())) throw new Error('redis not ready');
  say({ event: 'ready' });
  const running: Array<Promise<void>> = [];
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Command;
    if (cmd.op === 'close') break;
    // Not awaited: a slow load must not hold up the next command.
    running.push(
      (async () => {
        let loaded = false;
        const value = await cache.getOrLoad(cmd.scope, cmd.type, cmd.id, async () => {
          loaded = true;
          say({ event: 'loading', seq: cmd.seq });
          await new Promise((resolve) => setTimeout(resolve, cmd.delayMs ?? 0));
          return cmd.source;
        });
        say({ event: 'result', seq: cmd.seq, value, loaded, inL1: cache.l1Has(cmd.scope, cmd.type, cmd.id), stats: cache.stats() });
      })(),
    );
  }
  await Promise.all(running);
  await cache.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    process.exit(1);
  },
);
