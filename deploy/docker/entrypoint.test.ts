// The image's entry point, run here as the container runs it (no Docker needed): it picks the service from
// its argument or SERVICE, applies the node options the service's package.json names before the operator's
// NODE_OPTIONS, and hands over to `dmarc serve`. Without DATABASE_URL every service stops at its
// configuration check (exit 78, naming the variable) before connecting to anything, which is what these
// tests rely on: no infrastructure, and each run ends by itself.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deployableServices, ROOT } from '../deploy-manifests';

const ENTRYPOINT = path.join(ROOT, 'deploy/docker/entrypoint.sh');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runEntrypoint(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // Only what a container would have: no DATABASE_URL from the test's own environment.
    const child = spawn('sh', [ENTRYPOINT, ...args], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const nodeOptionsOf = (service: string): string => {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'services', service, 'package.json'), 'utf8')) as { dmarc?: { nodeOptions?: string } };
  return pkg.dmarc?.nodeOptions ?? '';
};

let dir: string;
let probe: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'entrypoint-'));
  // Preloaded through the operator's NODE_OPTIONS: records the NODE_OPTIONS the service process really got.
  probe = path.join(dir, 'record-node-options.js');
  writeFileSync(probe, `require('node:fs').writeFileSync(process.env.RECORD_TO, process.env.NODE_OPTIONS || '');\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deploy/docker/entrypoint.sh', () => {
  it.each(deployableServices())(
    'runs `dmarc serve %s` with its package.json node options first and the operator NODE_OPTIONS after them',
    async (service) => {
      const recordTo = path.join(dir, `${service}.options`);
      const operator = `--require ${probe}`;
      const r = await runEntrypoint([service], { NODE_OPTIONS: operator, RECORD_TO: recordTo });
      expect(r.stderr).toContain(`dmarc serve ${service}`);
      // Its own configuration check ran: the service was chosen and loaded.
      expect(r.stderr).toContain(`${service}: configuration: DATABASE_URL`);
      expect(r.code).toBe(78);
      expect(readFileSync(recordTo, 'utf8')).toBe([nodeOptionsOf(service), operator].filter(Boolean).join(' '));
    },
    60_000,
  );

  it('takes the service from SERVICE when no argument names one', async () => {
    const service = deployableServices()[0];
    const r = await runEntrypoint([], { SERVICE: service });
    expect(r.stderr).toContain(`${service}: configuration: DATABASE_URL`);
    expect(r.code).toBe(78);
  }, 60_000);

  it('runs any dmarc command after `dmarc`', async () => {
    const r = await runEntrypoint(['dmarc', 'help']);
    expect(r.stdout).toContain('db migrate');
    expect(r.code).toBe(0);
  }, 60_000);

  it.each([
    [[], {}, 'name the service to run'],
    [['no-such-service'], {}, 'unknown service "no-such-service"; one of: '],
    [['../services/cli'], {}, 'service name must be lower-case letters, digits and dashes'],
    [['api', 'parsing'], {}, 'one service per container'],
  ])('refuses %j with exit 64 and one line saying why', async (args, env, message) => {
    const r = await runEntrypoint(args, env);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(r.code).toBe(64);
  }, 60_000);
});
