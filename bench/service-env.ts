/**
 * The environment a bench gives the services it spawns: their log level (BENCH_LOG_LEVEL, default `fallback`)
 * and BENCH_NODE_OPTIONS as their NODE_OPTIONS (e.g. `--require` of a script starting the inspector profiler,
 * to see where their time goes).
 */
export function benchServiceEnv(fallback: string): Record<string, string> {
  return {
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? fallback,
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
  };
}
