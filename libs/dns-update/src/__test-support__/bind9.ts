// Test support (not a test): a real BIND 9 primary (`named` from Debian's bind9 package) on loopback, as the
// current user, in the foreground, with its own temporary directory: one zone that accepts dynamic updates
// signed with one TSIG key, on a free port. stop() and start() again keep the zone and its journal, so a
// test can take the server away and bring it back on the same address.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '@dmarc/testing';

/** The named binary, or undefined when BIND is not installed (`apt-get install bind9 bind9-utils`). */
export function namedBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'named');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Bind9 {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly zone: string;
  /** The key allow-update names; `secret` in base64. */
  readonly key: { name: string; algorithm: 'hmac-sha256'; secret: string };
  /** Starts named again (same port, zone and journal) after stop(). */
  start(): Promise<void>;
  /** Stops named (SIGTERM, then SIGKILL after 5 s); the directory stays until close(). */
  stop(): Promise<void>;
  /** Stops named and removes its directory. */
  close(): Promise<void>;
  /** named's log so far (for a failing test's message). */
  log(): string;
}

export interface Bind9Options {
  zone: string;
  /** Zone file lines after the SOA and NS, e.g. `_dmarc.d1 300 IN TXT "v=DMARC1; p=none"`. */
  records?: string[];
}

export async function startBind9(options: Bind9Options): Promise<Bind9> {
  const named = namedBinary();
  if (!named) throw new Error('named not installed (apt-get install bind9 bind9-utils)');
  const dir = mkdtempSync(path.join(tmpdir(), 'dmarc-bind9-'));
  const zone = options.zone;
  const key = { name: 'dmarc-autopilot-test', algorithm: 'hmac-sha256' as const, secret: randomBytes(32).toString('base64') };
  writeFileSync(
    path.join(dir, 'zone.db'),
    [
      '$TTL 300',
      `@ IN SOA ns1.${zone}. hostmaster.${zone}. 1 3600 600 86400 60`,
      `@ IN NS ns1.${zone}.`,
      'ns1 IN A 127.0.0.1',
      ...(options.records ?? []),
      '',
    ].join('\n'),
  );
  let port = 0;
  let child: ChildProcess | undefined;
  let output = '';

  const writeConfig = () =>
    writeFileSync(
      path.join(dir, 'named.conf'),
      `key "${key.name}" { algorithm ${key.algorithm}; secret "${key.secret}"; };
options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  notify no;
  dnssec-validation no;
};
controls { };
zone "${zone}" { type primary; file "${dir}/zone.db"; allow-update { key "${key.name}"; }; };
`,
    );

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(named, ['-g', '-4', '-n', '1', '-c', path.join(dir, 'named.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
      child = proc;
      const timer = setTimeout(() => fail(new Error(`named did not start within 15 s:\n${output.slice(-2000)}`)), 15_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(err);
      };
      const from = output.length;
      proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        // named -g logs a line that is just "running" once it listens and has loaded its zones (after "all zones
        // loaded"; "running on Linux" and "running as: named ..." come first and mean nothing yet).
        if (/ running$/m.test(output.slice(from))) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`named exited (${code ?? signal}) while starting:\n${output.slice(-2000)}`));
      });
    });

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };

  // A port free a moment ago may be taken by the time named binds it (other tests share the machine): try again.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    writeConfig();
    try {
      await launch();
      break;
    } catch (err) {
      await stop();
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  return {
    host: '127.0.0.1',
    port,
    zone,
    key,
    start: launch,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
  };
}
