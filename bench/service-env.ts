/**
 * The environment a bench gives the service it spawns: its log level (BENCH_LOG_LEVEL, default `fallback`),
 * BENCH_NODE_OPTIONS as NODE_OPTIONS (e.g. `--require` of a script starting the inspector profiler, to see
 * where the time goes), and settings for that service alone from BENCH_ENV_<SERVICE> as `K=V,K=V`
 * (e.g. BENCH_ENV_AGGREGATION=BATCH_MAX_MESSAGES=10), to try a setting without editing anything.
 */
export function benchServiceEnv(fallback: string, service: string): Record<string, string> {
  const own = process.env[`BENCH_ENV_${service.toUpperCase()}`] ?? '';
  const pairs = own
    .split(',')
    .filter((pair) => pair.includes('='))
    .map((pair) => [pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim()]);
  return {
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? fallback,
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    ...Object.fromEntries(pairs),
  };
}

/**
 * The local infrastructure's endpoints unless KAFKA_BROKERS, DATABASE_URL and REDIS_URL say otherwise; set in
 * the environment too, so the services a bench spawns use the same ones.
 */
export function benchEndpoints(): { brokers: string[]; databaseUrl: string } {
  process.env.KAFKA_BROKERS ??= '127.0.0.1:9092';
  process.env.DATABASE_URL ??= 'postgres://dmarc:dmarc@127.0.0.1:5432/dmarc';
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  return { brokers: process.env.KAFKA_BROKERS.split(','), databaseUrl: process.env.DATABASE_URL };
}
