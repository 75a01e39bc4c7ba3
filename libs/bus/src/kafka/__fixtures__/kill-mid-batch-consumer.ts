// Child process for kafka-bus.int.test.ts: joins a group, handles `handleCount` messages, then
// starts one more and never finishes it, so the parent can SIGKILL it with a batch half done.
// Prints one line per event: `handled <id>`, `in-flight <id>`.
import { loadContracts } from '@dmarc/contracts';
import { createKafkaBus } from '../kafka-bus';

interface Args {
  brokers: string[];
  topic: string;
  subject: string;
  groupId: string;
  handleCount: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as Args;
  const contracts = loadContracts({ topicAliases: { [args.topic]: args.subject } });
  const bus = await createKafkaBus({ brokers: args.brokers, clientId: 'kill-mid-batch', contracts, connectRetry: { maxAttempts: 10 } });
  let handled = 0;
  await bus.consume({
    groupId: args.groupId,
    topics: [args.topic],
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    maxWaitTimeMs: 100,
    // Nothing is committed on the interval during this run: the batch is only committed at its end.
    commitIntervalMs: 600_000,
    handler: async (m) => {
      const id = (m.value as { filename: string }).filename;
      if (handled === args.handleCount) {
        process.stdout.write(`in-flight ${id}\n`);
        await new Promise(() => undefined);
      }
      handled++;
      process.stdout.write(`handled ${id}\n`);
    },
  });
  process.stdout.write('running\n');
}

main().catch((error) => {
  process.stderr.write(`fixture failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
