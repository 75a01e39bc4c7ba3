import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

// The launcher as ops run it: `dmarc serve NAME` in its own process.
const BIN = path.resolve(__dirname, '../../../services/cli/bin/dmarc.js');
// What `dmarc` runs: the sources bundled into one file, rebuilt when any of them changed.
const BUNDLER = path.resolve(__dirname, '../../../services/cli/bin/cli-bundle.js');

/**
 * Brings the bundle up to date in a process of its own before each spawn, so the service finds it fresh
 * rather than building it in its own memory (and services spawned together do not all build it). A failure
 * is left to the service, which says why and runs the sources through tsx.
 */
async function prepareBundle(): Promise<void> {
  if ((process.env.DMARC_LOADER ?? 'bundle') !== 'bundle') return;
  await promisify(execFile)(process.execPath, [BUNDLER]).catch(() => undefined);
}

/**
 * The node options a service is deployed with: `dmarc.nodeOptions` in services/NAME/package.json (the DNS
 * service's heap cap), which every launcher (scripts/platform.sh, this one) passes as NODE_OPTIONS ahead of
 * any the caller gives. '' when it has none.
 */
export function serviceNodeOptions(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(path.resolve(__dirname, `../../../services/${name}/package.json`), 'utf8')) as { dmarc?: { nodeOptions?: string } };
    return manifest.dmarc?.nodeOptions ?? '';
  } catch {
    return '';
  }
}

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  return port;
}

export interface SpawnedService {
  readonly child: ChildProcess;
  readonly port: number;
  readonly base: string;
  /** stdout lines (JSON log lines) and stderr lines, as they come. */
  readonly stdout: string[];
  readonly stderr: string[];
}

export interface SpawnOptions {
  /**
   * In a session of its own (setsid). Where the kernel schedules sessions as groups (sched_autogroup, the default on
   * most Linux hosts), it then gets its own share of the CPUs instead of sharing the spawner's: as a service with its
   * own CPU request would in a cluster. Still stopped by the caller (it is not killed with the spawner's session).
   */
  detached?: boolean;
}

/** Starts `dmarc serve NAME` with the integration endpoints from the environment plus `env`. */
export async function spawnService(name: string, env: Record<string, string> = {}, options: SpawnOptions = {}): Promise<SpawnedService> {
  const port = await freePort();
  await prepareBundle();
  const child = spawn(process.execPath, [BIN, 'serve', name], {
    env: {
      PATH: process.env.PATH,
      // bundle (default) or tsx: how `dmarc` runs the sources.
      ...(process.env.DMARC_LOADER ? { DMARC_LOADER: process.env.DMARC_LOADER } : {}),
      KAFKA_BROKERS: process.env.KAFKA_BROKERS,
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      PORT: String(port),
      LOG_LEVEL: 'info',
      ...env,
      NODE_OPTIONS: [serviceNodeOptions(name), env.NODE_OPTIONS ?? ''].join(' ').trim(),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on('data', (d) => stdout.push(...String(d).split('\n').filter(Boolean)));
  child.stderr!.on('data', (d) => stderr.push(...String(d).split('\n').filter(Boolean)));
  return { child, port, base: `http://127.0.0.1:${port}`, stdout, stderr };
}

/** Polls until `probe` returns something other than undefined (errors count as not yet). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve().then(probe).catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitReady(svc: SpawnedService, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${svc.base}/readyz`, async () => ((await fetch(`${svc.base}/readyz`)).status === 200 ? true : undefined), timeoutMs);
}

/** SIGTERM, then the exit code (null when killed by a signal). */
export async function stopService(svc: SpawnedService): Promise<number | null> {
  if (svc.child.exitCode !== null) return svc.child.exitCode;
  svc.child.kill('SIGTERM');
  const [code] = (await once(svc.child, 'exit')) as [number | null];
  return code;
}
