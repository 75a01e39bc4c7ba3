/**
 * bench:cache's dashboard readers, in a worker thread of their own: the main thread publishes the ingestion
 * spike (kafkajs, gzip payloads), and a reader sharing its event loop would time the publisher's work as read
 * latency. CONNECTIONS closed-loop keep-alive clients, each its own seeded sequence of (tenant, domain, kind,
 * API process); bodies are drained, not kept. Closed loop by default (each client reads again as soon as it has
 * its answer: the machine's throughput); with a rate, open loop: each client reads on a fixed schedule and a
 * read's latency counts from when it was due, so a stall is charged to every read it delayed (no coordinated
 * omission). Runs until the main thread posts 'stop', then posts its figures.
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { seededRandom } from './seeded-random';

export interface ReadersInput {
  bases: string[];
  tenants: Array<{ apiKey: string; domains: string[] }>;
  connections: number;
  /** Reads per second over all connections, each on a fixed schedule (open loop); 0: each as soon as the last answered. */
  rate: number;
}

export interface ReadersOutput {
  reads: number;
  failed: number;
  statuses: Record<string, number>;
  latencies: number[];
  /** The same latencies by dashboard kind (summary, sources, trends). */
  byKind: Record<string, number[]>;
  /**
   * A control: /healthz of the same API processes, up to CONTROL_RATE times a second, one at a time, each
   * timed from its send as the closed-loop reads are: what a trivial request waits for on this machine.
   */
  control: number[];
  /** How late a timer due every 20 ms fired in this thread (ms): time the readers could not run. */
  loopLag: number[];
}

const KINDS = ['summary', 'sources', 'trends'];
/** /healthz reads a second at most (the API processes in turn) for the control figure. */
const CONTROL_RATE = 50;
const LAG_PROBE_MS = 20;

function get(agent: Agent, url: string, apiKey: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function run(input: ReadersInput, onStop: (stop: () => void) => void): Promise<ReadersOutput> {
  const agent = new Agent({ keepAlive: true, maxSockets: input.connections + 2 });
  let stopped = false;
  onStop(() => (stopped = true));
  const out: ReadersOutput = { reads: 0, failed: 0, statuses: {}, latencies: [], byKind: Object.fromEntries(KINDS.map((k) => [k, []])), control: [], loopLag: [] };
  const interval = input.rate > 0 ? (1000 * input.connections) / input.rate : 0;
  const reader = async (n: number) => {
    const r = seededRandom(1000 + n);
    const start = performance.now() + (interval * n) / input.connections;
    for (let k = 0; !stopped; k++) {
      let due = performance.now();
      if (interval > 0) {
        due = start + k * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (stopped) break;
      }
      const tenant = input.tenants[Math.floor(r() * input.tenants.length)];
      const domain = tenant.domains[Math.floor(r() * tenant.domains.length)];
      const kind = KINDS[Math.floor(r() * KINDS.length)];
      const base = input.bases[Math.floor(r() * input.bases.length)];
      const status = await get(agent, `${base}/v1/domains/${domain}/${kind}`, tenant.apiKey);
      const ms = performance.now() - due;
      out.latencies.push(ms);
      out.byKind[kind].push(ms);
      out.statuses[status] = (out.statuses[status] ?? 0) + 1;
      if (status === 200) out.reads++;
      else out.failed++;
    }
  };
  const control = async () => {
    const controlAgent = new Agent({ keepAlive: true, maxSockets: input.bases.length });
    for (let k = 0; !stopped; k++) {
      const sent = performance.now();
      await get(controlAgent, `${input.bases[k % input.bases.length]}/healthz`, '');
      const ms = performance.now() - sent;
      out.control.push(ms);
      // Paced, not caught up: one slow answer must not make the next ones late (each is timed from its send).
      const wait = 1000 / CONTROL_RATE - ms;
      if (wait > 0 && !stopped) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    controlAgent.destroy();
  };
  let due = performance.now() + LAG_PROBE_MS;
  const probe = setInterval(() => {
    const at = performance.now();
    out.loopLag.push(Math.max(0, at - due));
    due = at + LAG_PROBE_MS;
  }, LAG_PROBE_MS);
  await Promise.all([...Array.from({ length: input.connections }, (_, n) => reader(n)), control()]);
  clearInterval(probe);
  agent.destroy();
  return out;
}

// A worker thread of the bench, or a process of its own (BENCH_API_OWN_GROUP): its input, then 'stop', by IPC.
if (parentPort) void run(workerData as ReadersInput, (stop) => parentPort!.once('message', stop)).then((out) => parentPort!.postMessage(out));
else if (process.send) {
  process.once('message', (input: ReadersInput) =>
    void run(input, (stop) => process.once('message', stop)).then((out) => process.send!(out, () => process.exit(0))),
  );
}
