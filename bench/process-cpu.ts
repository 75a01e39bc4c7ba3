import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; undefined where there is none. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // utime and stime, fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The whole machine's busy and idle CPU seconds so far, from /proc/stat (every core summed). */
export function machineCpuSeconds(): { busy: number; idle: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return { busy: (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100, idle: (f[3] + f[4]) / 100 };
  } catch {
    return undefined;
  }
}

/** The pid of the local Kafka broker (a java process running kafka.Kafka), if this machine runs one. */
export function kafkaBrokerPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('kafka.Kafka')) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * Where a run's CPU went outside the services: the broker's process, each PostgreSQL backend by the
 * application name of its connection (pg_stat_activity: backends serving the services, the bench itself,
 * anything else), and the machine as a whole. Read at the start and end of the timed part; only processes on
 * this machine are seen (a remote broker or database reads as null).
 */
export class InfraCpu {
  private constructor(
    private readonly kafkaPid: number | undefined,
    private readonly start: { kafka?: number; backends: Map<number, { app: string; cpu: number }>; machine?: { busy: number; idle: number } },
  ) {}

  static async begin(query: BackendQuery): Promise<InfraCpu> {
    const kafkaPid = kafkaBrokerPid();
    return new InfraCpu(kafkaPid, { kafka: cpuSeconds(kafkaPid), backends: await backends(query), machine: machineCpuSeconds() });
  }

  /** CPU seconds since `begin`: kafka, postgres by application name, and the machine's busy share. */
  async end(query: BackendQuery): Promise<object> {
    const now = await backends(query);
    const pg: Record<string, number> = {};
    for (const [pid, b] of now) {
      const before = this.start.backends.get(pid)?.cpu ?? 0;
      pg[b.app] = round2((pg[b.app] ?? 0) + b.cpu - before);
    }
    const kafka = cpuSeconds(this.kafkaPid);
    const machine = machineCpuSeconds();
    const m0 = this.start.machine;
    const busy = machine && m0 ? machine.busy - m0.busy : undefined;
    const idle = machine && m0 ? machine.idle - m0.idle : undefined;
    return {
      kafka: kafka === undefined || this.start.kafka === undefined ? null : round2(kafka - this.start.kafka),
      postgres: pg,
      machineBusyCpuSeconds: busy === undefined ? null : round2(busy),
      machineBusyShare: busy === undefined || idle === undefined ? null : round2(busy / (busy + idle)),
    };
  }
}

export type BackendQuery = (sql: string) => Promise<{ rows: Array<{ pid: number; app: string }> }>;

async function backends(query: BackendQuery): Promise<Map<number, { app: string; cpu: number }>> {
  const { rows } = await query(
    `SELECT pid, coalesce(nullif(application_name, ''), 'unnamed') AS app FROM pg_stat_activity WHERE backend_type = 'client backend'`,
  );
  const out = new Map<number, { app: string; cpu: number }>();
  for (const row of rows) {
    const cpu = cpuSeconds(Number(row.pid));
    if (cpu !== undefined) out.set(Number(row.pid), { app: row.app, cpu });
  }
  return out;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
