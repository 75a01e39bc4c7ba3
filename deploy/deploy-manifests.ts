// Reads what the two deployments say about each service, in one shape, so the tests can compare them:
// docker-compose.yml (YAML anchors and merge keys resolved) and the Helm chart as `helm template` renders it.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { load, loadAll } from 'js-yaml';

export const ROOT = path.resolve(__dirname, '..');
export const CHART_DIR = path.join(ROOT, 'deploy/helm/dmarc-platform');
export const EXAMPLE_VALUES = path.join(CHART_DIR, 'ci/example-values.yaml');
export const HELM_VERSION = 'v3.16.4';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: unknown): Json => (isObject(v) ? v : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * The long-running services: every services/NAME whose package.json carries the nx tag type:service
 * (services/cli, the `dmarc` command, is type:app). A new service folder joins this list by itself.
 */
export function deployableServices(): string[] {
  const dir = path.join(ROOT, 'services');
  return readdirSync(dir)
    .filter((name) => {
      let pkg: Json;
      try {
        pkg = obj(JSON.parse(readFileSync(path.join(dir, name, 'package.json'), 'utf8')));
      } catch {
        return false;
      }
      return list(obj(pkg.nx).tags).includes('type:service');
    })
    .sort();
}

export interface HelmRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Helm through scripts/helm.sh, which finds or builds v3.16.4 first. */
export function helm(args: string[], timeoutMs = 60_000): HelmRun {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts/helm.sh'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export interface K8sDoc {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export function renderChart(extraArgs: string[] = []): K8sDoc[] {
  const r = helm(['template', 'dmarc', CHART_DIR, '-f', EXAMPLE_VALUES, ...extraArgs]);
  if (r.status !== 0) throw new Error(`helm template failed (${r.status}): ${r.stderr.trim()}`);
  return loadAll(r.stdout).filter(isObject) as K8sDoc[];
}

/** What one deployment gives a service's container. */
export interface ServiceDeployment {
  image: string;
  /** Arguments after the image's entrypoint. */
  args: string[];
  port: number;
  /** Variable names the container receives (direct, from a ConfigMap or a Secret). */
  envNames: string[];
  env: Record<string, string | undefined>;
}

export function composeFile(): Json {
  return obj(load(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')));
}

export function composeServices(compose: Json): Record<string, Json> {
  return obj(compose.services) as Record<string, Json>;
}

/** A compose service as a ServiceDeployment; its port is PORT, which it must also publish and probe. */
export function fromCompose(service: Json): ServiceDeployment {
  const env = Object.fromEntries(Object.entries(obj(service.environment)).map(([k, v]) => [k, v == null ? undefined : String(v)]));
  return {
    image: String(service.image),
    args: list(service.command).map(String),
    port: Number(env.PORT),
    envNames: Object.keys(env).sort(),
    env,
  };
}

export function byKind(docs: K8sDoc[], kind: string): Map<string, K8sDoc> {
  return new Map(docs.filter((d) => d.kind === kind).map((d) => [d.metadata.name, d]));
}

export function podSpec(workload: K8sDoc): Json {
  return obj(obj(obj(workload.spec).template).spec);
}

export function containerOf(workload: K8sDoc): Json {
  const containers = list(podSpec(workload).containers);
  if (containers.length !== 1) throw new Error(`${workload.kind} ${workload.metadata.name}: expected one container, got ${containers.length}`);
  return obj(containers[0]);
}

/** A rendered container as a ServiceDeployment: env entries plus every key of the ConfigMaps it takes whole. */
export function fromChart(workload: K8sDoc, docs: K8sDoc[]): ServiceDeployment {
  const c = containerOf(workload);
  const configMaps = byKind(docs, 'ConfigMap');
  const env: Record<string, string | undefined> = {};
  for (const from of list(c.envFrom).map(obj)) {
    const ref = obj(from.configMapRef);
    const cm = configMaps.get(String(ref.name));
    if (!cm) throw new Error(`${workload.metadata.name}: envFrom names ConfigMap ${String(ref.name)}, which the chart does not render`);
    for (const [k, v] of Object.entries(obj(cm.data))) env[k] = String(v);
    if (from.secretRef) throw new Error(`${workload.metadata.name}: envFrom a whole Secret hides which variables it sets`);
  }
  for (const e of list(c.env).map(obj)) env[String(e.name)] = e.value === undefined ? undefined : String(e.value);
  const http = list(c.ports).map(obj).find((p) => p.name === 'http');
  return {
    image: String(c.image),
    args: list(c.args).map(String),
    port: Number(http?.containerPort),
    envNames: Object.keys(env).sort(),
    env,
  };
}

/** The secretKeyRef of each variable the container reads from a Secret. */
export function secretRefs(workload: K8sDoc): Record<string, { name: string; key: string }> {
  const out: Record<string, { name: string; key: string }> = {};
  for (const e of list(containerOf(workload).env).map(obj)) {
    const ref = obj(obj(e.valueFrom).secretKeyRef);
    if (ref.name !== undefined) out[String(e.name)] = { name: String(ref.name), key: String(ref.key) };
  }
  return out;
}

/** Every path of values.yaml down to a setting: objects named in `opaque` count as one value each. */
export function valuePaths(values: Json, opaque: (pathText: string) => boolean, prefix = ''): string[] {
  return Object.entries(values).flatMap(([key, value]) => {
    const p = prefix ? `${prefix}.${key}` : key;
    return isObject(value) && Object.keys(value).length > 0 && !opaque(p) ? valuePaths(value, opaque, p) : [p];
  });
}

export { isObject, obj, list, type Json };
