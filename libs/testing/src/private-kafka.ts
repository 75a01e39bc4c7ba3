import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './spawned-service';

const ROOT = path.resolve(__dirname, '../../..');
const CLASSPATH = path.join(ROOT, '.infra/kafka/classpath.txt');

/**
 * A one-node KRaft broker of a test's own, on free loopback ports, that the test can stop and start again (same
 * data): to see what a service does when Kafka goes away after it connected, without touching the shared broker.
 * Runs the jars `scripts/infra.sh` resolved for the local mode; unavailable (`reason`) where those are absent.
 */
export interface PrivateKafka {
  readonly brokers: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and deletes its data. */
  close(): Promise<void>;
}

export function privateKafkaUnavailable(): string | undefined {
  if (!existsSync(CLASSPATH)) return `no Kafka jars at ${CLASSPATH} (resolved by \`bash scripts/infra.sh up\` in local mode)`;
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch {
    return 'no java on PATH';
  }
  return undefined;
}

export async function createPrivateKafka(): Promise<PrivateKafka> {
  const why = privateKafkaUnavailable();
  if (why) throw new Error(`private Kafka unavailable: ${why}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'dmarc-kafka-'));
  const [port, controller] = [await freePort(), await freePort()];
  const properties = path.join(dir, 'server.properties');
  writeFileSync(
    properties,
    readFileSync(path.join(ROOT, 'scripts/kafka/server.properties.template'), 'utf8')
      .replaceAll('@KAFKA_PORT@', String(port))
      .replaceAll('@CONTROLLER_PORT@', String(controller))
      .replaceAll('@DATA_DIR@', path.join(dir, 'data')),
  );
  const java = (args: string[]) => [
    '-Xmx256m',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${path.join(ROOT, 'scripts/kafka/log4j.properties')}`,
    `-Dkafka.logs.dir=${dir}`,
    '-cp',
    readFileSync(CLASSPATH, 'utf8').trim(),
    ...args,
  ];
  const clusterId = Buffer.from(Array.from({ length: 16 }, (_, i) => (i * 37 + port) & 0xff)).toString('base64url').replace(/^-/, 'A');
  execFileSync('java', java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties, '--ignore-formatted']), { stdio: 'ignore' });

  let child: ChildProcess | undefined;
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  const start = async () => {
    if (child) return;
    child = spawn('java', java(['kafka.Kafka', properties]), { stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    while (!(await listening())) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`private Kafka did not listen on 127.0.0.1:${port} (logs in ${dir})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    brokers: `127.0.0.1:${port}`,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
