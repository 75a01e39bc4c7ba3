/**
 * What bench:pipeline and bench:huge need to run the DNS service with BENCH_DNS=1: a loopback authoritative
 * DNS server (startDnsTestServer of @dmarc/testing) answering every name the benches' reports lead to, the
 * DNS service's settings, its own Redis database and consumer groups, and its counters.
 *
 * - PTR: every in-addr.arpa / ip6.arpa name answers `host-<ip dashed>.senders.example` (IPv6 written in full,
 *   8 groups of 4 hex digits), TTL 3600 (the service's DNS_MAX_TTL_SECONDS default: kept the whole run).
 * - TXT: `_dmarc.<domain>` a DMARC record and `<domain>` an SPF record for the bench's domains; any other name
 *   NXDOMAIN. The server counts every query; its query log is off (a million names would fill it for nothing).
 * - Redis: the DNS cache's keys (`global:dns:*`) go to a database of their own (BENCH_DNS_REDIS_DB, default 13,
 *   of REDIS_URL's server), emptied of them before and after the run: the fake answers (PTR names for public
 *   IPs, example.com's records) never reach the shared cache others' tests and services use, and a run starts
 *   cold whatever ran before. Pub/sub channels are per server, not per database: harmless, they are per name.
 * - Consumer groups of the bench's own (`bench-dns` on dmarc.reports.parsed, `bench-aggregation-enriched` on
 *   dmarc.reports.enriched), moved to the end of their topic before the run, so they never replay what earlier
 *   runs left on the topics; the standard `dns` group is not touched. The standard `aggregation` group (runs
 *   without DNS) is moved past the chunks a DNS run put on dmarc.reports.parsed once it ends
 *   (releaseStandardAggregation), else the next run without DNS would first replay them for deleted tenants.
 */
import { isIPv4 } from 'node:net';
import { startDnsTestServer, type DnsTestServer } from '@dmarc/testing';
import { Kafka, logLevel } from 'kafkajs';

export const DNS_GROUP = 'bench-dns';
export const ENRICHED_AGGREGATION_GROUP = 'bench-aggregation-enriched';
export const PARSED_TOPIC = 'dmarc.reports.parsed';
export const ENRICHED_TOPIC = 'dmarc.reports.enriched';
const PTR_TTL = 3600;

export const dmarcRecordOf = (domain: string): string => `v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@${domain}`;
export const SPF_RECORD = 'v=spf1 ip4:203.0.0.0/16 ip6:2001:db8::/32 -all';

/** The PTR name the fixture gives the reverse name of an IP, or undefined for what is not a reverse name. */
export function ptrOfReverseName(name: string): string | undefined {
  const labels = name.split('.');
  if (name.endsWith('.in-addr.arpa') && labels.length === 6) {
    return `host-${labels.slice(0, 4).reverse().join('-')}.senders.example`;
  }
  if (name.endsWith('.ip6.arpa') && labels.length === 34) {
    const hex = labels.slice(0, 32).reverse().join('');
    return `host-${hex.match(/.{4}/g)!.join('-')}.senders.example`;
  }
  return undefined;
}

/** The PTR name the fixture gives an IP (what the enriched `ptr` of a record from it must be). */
export function expectedPtr(ip: string): string {
  if (isIPv4(ip)) return `host-${ip.split('.').join('-')}.senders.example`;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `host-${groups.map((g) => g.padStart(4, '0')).join('-')}.senders.example`;
}

/** The loopback DNS server, answering PTR for every reverse name and TXT for the domains `isBenchDomain` accepts. */
export async function startBenchDns(isBenchDomain: (domain: string) => boolean): Promise<DnsTestServer> {
  const server = await startDnsTestServer({ logLimit: 0 });
  server.setFallback((name, type) => {
    if (type === 'PTR') {
      const ptr = ptrOfReverseName(name);
      return ptr ? { records: [ptr], ttl: PTR_TTL } : undefined;
    }
    if (name.startsWith('_dmarc.') && isBenchDomain(name.slice(7))) return { records: type === 'TXT' ? [dmarcRecordOf(name.slice(7))] : [], ttl: 3600 };
    if (isBenchDomain(name)) return { records: type === 'TXT' ? ['some-verification=abc123', SPF_RECORD] : [], ttl: 3600 };
    return undefined;
  });
  return server;
}

/** REDIS_URL with the bench's database instead of any the URL names. */
export function benchDnsRedisUrl(): string {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  url.pathname = `/${Number(process.env.BENCH_DNS_REDIS_DB ?? 13)}`;
  return url.toString();
}

/** Deletes the DNS cache's keys from the bench's database; how many. */
export async function clearBenchDnsCache(redisUrl: string): Promise<number> {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'global:dns:*', 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) removed += await redis.unlink(...keys);
    } while (cursor !== '0');
    return removed;
  } finally {
    redis.disconnect();
  }
}

/** The DNS service's settings for a bench (BENCH_ENV_DNS still overrides any of them). */
export function dnsServiceEnv(server: DnsTestServer, redisUrl: string): Record<string, string> {
  return {
    DNS_UPSTREAM: server.address,
    REDIS_URL: redisUrl,
    CONSUMER_GROUP: DNS_GROUP,
    // The watch reads every tenant's monitored domains from the database on its own schedule: not what is measured.
    DNS_WATCH_INTERVAL_SECONDS: '0',
  };
}

/** Aggregation's settings when the DNS service runs: the enriched topic, in the bench's own group. */
export const enrichedAggregationEnv = { SOURCE_TOPIC: ENRICHED_TOPIC, CONSUMER_GROUP: ENRICHED_AGGREGATION_GROUP };

/** A run through the DNS service, set up: its loopback server, the settings of the services it changes, and its clean-up. */
export interface DnsFlow {
  server: DnsTestServer;
  /** Settings for `dns` and `aggregation`. */
  env: Record<string, Record<string, string>>;
  /** After the run: the server closed, the bench's DNS cache emptied, the standard aggregation group moved past the run. */
  release(): Promise<void>;
}

/** Everything a bench run through the DNS service sets up first: the server, a cold cache, its groups at the ends of their topics. */
export async function startDnsFlow(brokers: string[], redisUrl: string, isBenchDomain: (domain: string) => boolean): Promise<DnsFlow> {
  const server = await startBenchDns(isBenchDomain);
  await clearBenchDnsCache(redisUrl);
  const atStart = await parsedEnds(brokers);
  await moveBenchGroupsToEnd(brokers);
  return {
    server,
    env: { dns: dnsServiceEnv(server, redisUrl), aggregation: enrichedAggregationEnv },
    async release() {
      await server.close();
      await clearBenchDnsCache(redisUrl).catch(() => undefined);
      await releaseStandardAggregation(brokers, atStart).catch((err: Error) => console.error(`bench: the aggregation group not moved past this run's chunks: ${err.message}`));
    },
  };
}

/**
 * Moves the bench's own groups to the end of their topics (refused by the broker if a group has members, so a
 * run never does it under another's feet). A topic that does not exist yet is left: its groups start at its start.
 */
export async function moveBenchGroupsToEnd(brokers: string[]): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'dmarc-bench-dns', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = new Set(await admin.listTopics());
    for (const [groupId, topic] of [
      [DNS_GROUP, PARSED_TOPIC],
      [ENRICHED_AGGREGATION_GROUP, ENRICHED_TOPIC],
    ] as const) {
      if (!topics.has(topic)) continue;
      // Explicit offsets: resetOffsets' "latest" is committed as -1, which a consumer reads as "no offset" and
      // then starts where CONSUME_FROM_BEGINNING says, the beginning.
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({ groupId, topic, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
    }
  } finally {
    await admin.disconnect();
  }
}

/** The end offsets of dmarc.reports.parsed, noted when a DNS run starts for `releaseStandardAggregation`. */
export async function parsedEnds(brokers: string[]): Promise<Map<number, string>> {
  const admin = new Kafka({ brokers, clientId: 'dmarc-bench-dns', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(PARSED_TOPIC)).map((p) => [p.partition, p.high]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * After a DNS run: the standard `aggregation` group (what bench runs without DNS use) never saw the chunks the
 * run's parsing published on dmarc.reports.parsed (the run's aggregation read the enriched topic), so it would
 * replay them, for tenants already deleted, before the next run's. Moves it past them: on each partition where
 * it had read everything when the run started (`atStart`), to the end now. A partition it lagged on is left.
 */
export async function releaseStandardAggregation(brokers: string[], atStart: Map<number, string>): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'dmarc-bench-dns', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId: 'aggregation', topics: [PARSED_TOPIC] });
    const ends = await admin.fetchTopicOffsets(PARSED_TOPIC);
    const partitions = ends
      .filter((e) => committed?.partitions.find((p) => p.partition === e.partition)?.offset === atStart.get(e.partition))
      .map((e) => ({ partition: e.partition, offset: e.high }));
    if (partitions.length > 0) await admin.setOffsets({ groupId: 'aggregation', topic: PARSED_TOPIC, partitions });
  } finally {
    await admin.disconnect();
  }
}

/** The DNS service's counters from its /metrics: dns_cache_* (not the latency histogram) and dmarc_enriched_chunks_total. */
export async function dnsMetrics(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^((?:dns_cache_|dmarc_enriched_chunks)\w*?)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1].includes('latency')) continue;
    out[m[1]] = (out[m[1]] ?? 0) + Number(m[2]);
  }
  return out;
}

/** What the upstream (the loopback server) was asked: every query, and per type. */
export function upstreamQueries(server: DnsTestServer): { total: number; PTR: number; TXT: number; tcp: number } {
  const all = server.queries();
  return { total: all.total, PTR: server.queries(undefined, 'PTR').total, TXT: server.queries(undefined, 'TXT').total, tcp: all.tcp };
}

/** Differences of two metric snapshots (after - before), for the counters present in `after`. */
export function metricsDelta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}
