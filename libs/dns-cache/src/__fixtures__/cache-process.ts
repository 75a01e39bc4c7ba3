// Child process for shared-redis.int.test.ts: one DnsCache on the given Redis with its own fake upstream,
// standing for another replica of the DNS service. Prints one JSON line per event:
//   {"event":"ready"}                                       connected; resolves when a line comes on stdin
//   {"event":"querying"}                                    its upstream got the question (then it may hang)
//   {"event":"resolved","source":...,"answers":...,"upstreamQueries":n}
import Redis from 'ioredis';
import { DnsCache } from '../dns-cache';
import { RedisL2 } from '../redis-l2';
import { FakeUpstream } from '../__test-support__/fake-upstream';

interface Args {
  redisUrl: string;
  name: string;
  text: string;
  ttl: number;
  delayMs: number;
  leaseMs: number;
  /** The upstream never answers: this process takes the lease and is killed holding it. */
  hang?: boolean;
}

const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as Args;
  const redis = new Redis(args.redisUrl, { maxRetriesPerRequest: 2 });
  const l2 = new RedisL2(redis);
  const upstream = new FakeUpstream();
  upstream.txt(args.name, args.text, args.ttl);
  upstream.delayMs = args.delayMs;
  if (args.hang) upstream.hold();
  const query = upstream.query.bind(upstream);
  upstream.query = (name, type) => {
    say({ event: 'querying' });
    return query(name, type);
  };
  const cache = new DnsCache({ upstream, l2, leaseMs: args.leaseMs, leasePollMs: 50 });
  await redis.ping();
  say({ event: 'ready' });
  // The parent says go, so both processes ask at the same moment.
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy();
  const result = await cache.resolve(args.name, 'TXT');
  say({ event: 'resolved', source: result.source, answers: result.answers, ttl: result.ttl, upstreamQueries: upstream.count });
  cache.close();
  await l2.close();
  await redis.quit();
}

main().catch((error) => {
  process.stderr.write(`fixture failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
