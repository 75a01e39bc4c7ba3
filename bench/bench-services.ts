import { spawnService, type SpawnedService } from '@dmarc/testing';
import { Kafka, logLevel } from 'kafkajs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, then SIGKILL if the service has not exited 15 s later: no bench leaves a process behind. */
export async function stopBenchService(svc: SpawnedService): Promise<void> {
  if (svc.child.exitCode !== null || svc.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => svc.child.once('exit', () => resolve()));
  svc.child.kill('SIGTERM');
  const killed = await Promise.race([exited.then(() => false), sleep(15_000).then(() => true)]);
  if (killed) {
    svc.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Benches run the services in their standard consumer groups: a stale member (a service still running
 * against the same broker) would take part of the messages, so a bench refuses to start instead.
 */
export async function checkNoStaleMembers(brokers: string[], groups: string[], clientId: string): Promise<void> {
  const admin = new Kafka({ brokers, clientId, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups: described } = await admin.describeGroups(groups);
    const busy = described.filter((g) => g.members.length > 0);
    if (busy.length) {
      throw new Error(`consumer group(s) ${busy.map((g) => `${g.groupId} (${g.members.length} members)`).join(', ')} already have members: stop the services running against ${brokers.join(',')} first`);
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Starts `dmarc serve NAME` for each name (its settings from `envOf`, then BENCH_ENV_<NAME>), with a last resort
 * should the bench hang: every one SIGKILLed and the bench ended `timeoutS` + 30 s from now. The services are
 * pushed to `into` as they start, so the caller's clean-up stops them even if a later one fails to start.
 */
export async function spawnBenchServices(
  label: string,
  names: readonly string[],
  envOf: (name: string) => Record<string, string>,
  timeoutS: number,
  into: SpawnedService[],
): Promise<SpawnedService[]> {
  for (const name of names) into.push(await spawnService(name, envOf(name)));
  setTimeout(() => {
    for (const s of into) s.child.kill('SIGKILL');
    console.error(`bench ${label}: deadline: still running ${timeoutS + 30} s after the start, services killed`);
    process.exit(1);
  }, timeoutS * 1000 + 30_000).unref();
  return into;
}
