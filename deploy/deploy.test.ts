// The two deployments (docker-compose.yml, the Helm chart) against the repository and each other: every
// long-running service is in both, from the same image, on the same port, with the same variable names, all
// of which the service reads; the migrations run before any service in both; the chart lints and renders,
// and refuses values it cannot run with. Helm v3.16.4 comes from scripts/helm.sh (built once into .tools/).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import type { ConfigSpec } from '@dmarc/config';
import {
  byKind,
  CHART_DIR,
  composeFile,
  composeServices,
  containerOf,
  deployableServices,
  EXAMPLE_VALUES,
  fromChart,
  fromCompose,
  helm,
  HELM_VERSION,
  isObject,
  list,
  obj,
  podSpec,
  renderChart,
  ROOT,
  secretRefs,
  valuePaths,
  type K8sDoc,
} from './deploy-manifests';

const SERVICES = deployableServices();
const RELEASE = 'dmarc';
const deploymentName = (service: string) => `${RELEASE}-dmarc-platform-${service}`;
const MIGRATE = ['dmarc', 'db', 'migrate'];

let docs: K8sDoc[];
const compose = composeFile();
const composed = composeServices(compose);

beforeAll(() => {
  // Building helm takes 2-3 minutes the first time on this machine (CI builds it in .ci/run first).
  const r = helm(['version', '--template', '{{.Version}}'], 600_000);
  if (r.status !== 0 || r.stdout.trim() !== HELM_VERSION) {
    throw new Error(
      `helm ${HELM_VERSION} could not be obtained through scripts/helm.sh (status ${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}. ` +
        'It needs helm on PATH at that version, or a Go toolchain and the Go module proxy to build it (.ci/run does so before npm test).',
    );
  }
  docs = renderChart();
}, 660_000);

/** Each service's config spec, from its own package (the spec `dmarc serve NAME` loads). */
async function configSpecOf(service: string): Promise<ConfigSpec> {
  const mod = (await import(`@dmarc/${service}`)) as Record<string, unknown>;
  const found = Object.values(mod).find(
    (v) => isObject(v) && v.name === service && isObject(v.config) && typeof v.create === 'function',
  ) as { config: ConfigSpec } | undefined;
  if (!found) throw new Error(`@dmarc/${service} exports no service module named ${service}`);
  return found.config;
}

describe('the service list', () => {
  it('is derived from the repository and not empty', () => {
    expect(SERVICES.length).toBeGreaterThan(0);
    expect(SERVICES).not.toContain('cli');
  });

  it('every long-running service runs in docker-compose.yml, and nothing else runs the image as a service', () => {
    const composeApps = Object.entries(composed)
      .filter(([, s]) => String(s.image) === String(composed.migrate?.image) && list(s.command)[0] !== 'dmarc')
      .map(([name]) => name)
      .sort();
    expect(composeApps).toEqual(SERVICES);
  });

  it('every long-running service has a Deployment and a Service in the rendered chart, and nothing else', () => {
    const prefix = `${RELEASE}-dmarc-platform-`;
    const names = (kind: string) => [...byKind(docs, kind).keys()].map((n) => n.slice(prefix.length)).sort();
    expect(names('Deployment')).toEqual(SERVICES);
    expect(names('Service')).toEqual(SERVICES);
  });
});

describe.each(SERVICES)('%s', (service) => {
  const fromComposeFile = () => fromCompose(composed[service]);
  const deployment = () => {
    const d = byKind(docs, 'Deployment').get(deploymentName(service));
    if (!d) throw new Error(`no Deployment ${deploymentName(service)}`);
    return d;
  };

  it('runs from the same image with the service named as the argument in both', () => {
    const c = fromComposeFile();
    const k = fromChart(deployment(), docs);
    expect(k.image).toBe(c.image);
    expect(c.args).toEqual([service]);
    expect(k.args).toEqual([service]);
  });

  it('listens on the same port in both: PORT, the published or container port, the probes and the Service', () => {
    const c = fromComposeFile();
    const k = fromChart(deployment(), docs);
    expect(Number.isInteger(c.port)).toBe(true);
    expect(k.port).toBe(c.port);
    expect(Number(k.env.PORT)).toBe(k.port);
    expect(list(composed[service].ports)).toContain(`127.0.0.1:${c.port}:${c.port}`);
    expect(String(list(obj(composed[service].healthcheck).test).join(' '))).toContain('/readyz');

    const container = containerOf(deployment());
    const probe = (name: string) => obj(obj(container[name]).httpGet);
    expect(probe('livenessProbe')).toEqual({ path: '/healthz', port: 'http' });
    expect(probe('readinessProbe')).toEqual({ path: '/readyz', port: 'http' });
    expect(probe('startupProbe')).toEqual({ path: '/healthz', port: 'http' });

    const svc = byKind(docs, 'Service').get(deploymentName(service));
    expect(list(obj(svc?.spec).ports)).toEqual([{ name: 'http', port: k.port, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('receives the same variable names in both, each one a setting the service reads, every required one given', async () => {
    const c = fromComposeFile();
    const k = fromChart(deployment(), docs);
    expect(k.envNames).toEqual(c.envNames);

    const spec = await configSpecOf(service);
    expect(c.envNames.filter((name) => !(name in spec))).toEqual([]);
    const required = Object.entries(spec)
      .filter(([, s]) => !s.hasDefault && !s.optional)
      .map(([name]) => name);
    expect(required.filter((name) => !c.envNames.includes(name))).toEqual([]);
    // Without it the service binds 127.0.0.1, which neither a published port nor the kubelet reaches.
    expect(c.env.HOST).toBe('0.0.0.0');
    expect(k.env.HOST).toBe('0.0.0.0');
  });

  it('reads DATABASE_URL and REDIS_URL from a Secret in the chart, not from its ConfigMap', () => {
    const refs = secretRefs(deployment());
    expect(Object.keys(refs).sort()).toEqual(['DATABASE_URL', 'REDIS_URL']);
    for (const cm of byKind(docs, 'ConfigMap').values()) {
      expect(Object.keys(obj(cm.data))).not.toContain('DATABASE_URL');
      expect(Object.keys(obj(cm.data))).not.toContain('REDIS_URL');
    }
  });

  it('starts in compose only once the infrastructure is healthy and the migrations completed', () => {
    expect(obj(composed[service].depends_on)).toEqual({
      kafka: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
      migrate: { condition: 'service_completed_successfully' },
    });
  });

  it('has resources, a PDB selecting its pods, and an HPA on its Deployment exactly when its values enable one', () => {
    const container = containerOf(deployment());
    expect(Object.keys(obj(obj(container.resources).requests)).sort()).toEqual(['cpu', 'memory']);
    expect(obj(obj(container.resources).limits).memory).toBeDefined();

    const podLabels = obj(obj(obj(deployment().spec).template).metadata).labels as Record<string, string>;
    const pdb = byKind(docs, 'PodDisruptionBudget').get(deploymentName(service));
    expect(pdb?.apiVersion).toBe('policy/v1');
    expect(obj(obj(pdb?.spec).selector).matchLabels).toEqual(obj(obj(deployment().spec).selector).matchLabels);
    expect(podLabels).toMatchObject(obj(obj(obj(pdb?.spec).selector).matchLabels));

    const values = obj(load(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')));
    const autoscaled = obj(obj(obj(values.services)[service]).autoscaling).enabled === true;
    const hpa = byKind(docs, 'HorizontalPodAutoscaler').get(deploymentName(service));
    if (autoscaled) {
      expect(hpa?.apiVersion).toBe('autoscaling/v2');
      expect(obj(hpa?.spec).scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deploymentName(service) });
      // The HPA owns the replica count.
      expect(obj(deployment().spec).replicas).toBeUndefined();
    } else {
      expect(hpa).toBeUndefined();
      expect(obj(deployment().spec).replicas).toBeGreaterThan(0);
    }
  });

  it("is the only service each selector picks: its Service's and its PDB's match its pods and no other Deployment's", () => {
    const svcSelector = obj(obj(byKind(docs, 'Service').get(deploymentName(service))?.spec).selector);
    const matching = [...byKind(docs, 'Deployment').values()].filter((d) => {
      const labels = obj(obj(obj(d.spec).template).metadata).labels as Record<string, string>;
      return Object.entries(svcSelector).every(([k, v]) => labels[k] === v);
    });
    expect(matching.map((d) => d.metadata.name)).toEqual([deploymentName(service)]);
  });
});

describe('migrations', () => {
  it('compose runs `dmarc db migrate` once from the same image, on DATABASE_URL, after PostgreSQL is healthy', () => {
    const m = fromCompose(composed.migrate);
    expect(m.args).toEqual(MIGRATE);
    expect(m.image).toBe(fromCompose(composed[SERVICES[0]]).image);
    expect(m.envNames).toContain('DATABASE_URL');
    expect(composed.migrate.restart).toBe('no');
    expect(obj(composed.migrate.depends_on).postgres).toEqual({ condition: 'service_healthy' });
  });

  it('the chart runs it as a pre-install and pre-upgrade hook Job from the same image, DATABASE_URL from a Secret', () => {
    const jobs = [...byKind(docs, 'Job').values()];
    expect(jobs).toHaveLength(1);
    const job = jobs[0];
    const hooks = String(job.metadata.annotations?.['helm.sh/hook']).split(',').sort();
    expect(hooks).toEqual(['pre-install', 'pre-upgrade']);
    const k = fromChart(job, docs);
    expect(k.args).toEqual(MIGRATE);
    expect(k.image).toBe(fromChart(byKind(docs, 'Deployment').get(deploymentName(SERVICES[0]))!, docs).image);
    expect(obj(podSpec(job)).restartPolicy).toBe('Never');

    // Its Secret must exist before the release's own resources do: a hook of its own, made first.
    const ref = secretRefs(job).DATABASE_URL;
    const secret = byKind(docs, 'Secret').get(ref.name);
    expect(secret?.metadata.annotations?.['helm.sh/hook']).toBe(job.metadata.annotations?.['helm.sh/hook']);
    expect(Number(secret?.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations?.['helm.sh/hook-weight']));
    expect(Object.keys(obj(secret?.stringData))).toEqual([ref.key]);
  });
});

describe('the chart', () => {
  it('passes helm lint --strict with the example values', () => {
    const r = helm(['lint', '--strict', CHART_DIR, '-f', EXAMPLE_VALUES]);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  it('deploys the image tag the platform is versioned at (Chart appVersion = package.json version = compose tag)', () => {
    const chart = obj(load(readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8')));
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
    expect(fromCompose(composed[SERVICES[0]]).image).toBe(`dmarc-platform:${pkg.version}`);
  });

  it.each([
    [[], 'config.kafkaBrokers is required'],
    [['--set', 'config.kafkaBrokers=kafka:9092', '--set', 'secrets.redisUrl=redis://r:6379'], 'secrets.databaseUrl is required'],
    [['--set', 'config.kafkaBrokers=kafka:9092', '--set', 'secrets.databaseUrl=postgres://u:p@h/d'], 'secrets.redisUrl is required'],
  ])('refuses to render without the operator endpoints (%j): %s', (args, message) => {
    const r = helm(['template', RELEASE, CHART_DIR, ...args]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  it('refuses values its schema rejects, naming the value', () => {
    const r = helm(['template', RELEASE, CHART_DIR, '-f', EXAMPLE_VALUES, '--set', 'config.logLevel=loud', '--set', 'services.api.port=70000']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('config.logLevel');
    expect(r.stderr).toContain('services.api.port');
  });

  it('refuses dns off while aggregation still reads the topic only dns writes, and renders once SOURCE_TOPIC follows', () => {
    const off = helm(['template', RELEASE, CHART_DIR, '-f', EXAMPLE_VALUES, '--set', 'services.dns.enabled=false']);
    expect(off.status).not.toBe(0);
    expect(off.stderr).toContain('services.aggregation.env.SOURCE_TOPIC');

    const rendered = renderChart(['--set', 'services.dns.enabled=false', '--set', 'services.aggregation.env.SOURCE_TOPIC=dmarc.reports.parsed']);
    expect(byKind(rendered, 'Deployment').has(deploymentName('dns'))).toBe(false);
    const aggregation = byKind(rendered, 'Deployment').get(deploymentName('aggregation'))!;
    expect(fromChart(aggregation, rendered).env.SOURCE_TOPIC).toBe('dmarc.reports.parsed');
  });

  it('with secrets.existingSecret, makes no Secret and every workload reads the named one under the given keys', () => {
    const rendered = renderChart(['--set', 'secrets.existingSecret=ops-dmarc', '--set', 'secrets.databaseUrlKey=pg', '--set', 'secrets.redisUrlKey=redis']);
    expect(byKind(rendered, 'Secret').size).toBe(0);
    const workloads = [...byKind(rendered, 'Deployment').values(), ...byKind(rendered, 'Job').values()];
    expect(workloads.length).toBe(SERVICES.length + 1);
    for (const w of workloads) {
      for (const [name, ref] of Object.entries(secretRefs(w))) {
        expect(ref).toEqual({ name: 'ops-dmarc', key: name === 'DATABASE_URL' ? 'pg' : 'redis' });
      }
    }
  });

  it('documents every value in deploy/helm/README.md', () => {
    const values = obj(load(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')));
    // Kubernetes objects passed through as they are count as one value each; every service has the same keys.
    const opaque = (p: string) => /(^|\.)(resources|podSecurityContext|securityContext|startup|liveness|readiness|env)$/.test(p);
    const paths = new Set(valuePaths(values, opaque).map((p) => p.replace(/^services\.[^.]+\./, 'services.<name>.')));
    const readme = readFileSync(path.join(ROOT, 'deploy/helm/README.md'), 'utf8');
    expect([...paths].filter((p) => !readme.includes(`\`${p}\``))).toEqual([]);
    for (const service of SERVICES) expect(readme).toContain(`\`${service}\``);
  });
});
