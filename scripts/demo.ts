// Shows the running platform at work: creates a demo tenant, publishes real DMARC reports to
// dmarc.reports.inbound as an upstream mail pipeline would, and follows them to dmarc.reports.received
// and the raw report store; then submits one again to show it is recognised as a duplicate; then reads
// each report's status through the ingestion API; registers the report's domains with the tenant API,
// reads each domain's compliance summary through it (twice: the second read comes from the cache), sets a
// DMARC policy and reads it back from the dashboard and the audit trail, all with the tenant's API key.
// Run by `npm start` (scripts/platform.sh) against the services it started.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createKafkaBus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import { PgStore } from '@dmarc/store';
import { createTenant } from '@dmarc/tenant-admin';

const env = process.env;
const corpus = path.resolve(__dirname, '../../shared/corpus/parsedmarc-samples/aggregate');
const SAMPLE = `<?xml version="1.0"?><feedback><report_metadata><org_name>demo.example</org_name><email>noreply@demo.example</email>
<report_id>demo-${Date.now()}</report_id><date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
<policy_published><domain>example.com</domain><p>none</p><pct>100</pct></policy_published>
<record><row><source_ip>192.0.2.1</source_ip><count>3</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
<identifiers><header_from>example.com</header_from></identifiers><auth_results><dkim><domain>example.com</domain><result>pass</result></dkim><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record></feedback>`;

function reports(): Array<{ name: string; bytes: Buffer }> {
  if (!existsSync(corpus)) {
    console.log(`demo: ${corpus} not found; using one built-in sample report`);
    return [{ name: 'built-in-sample.xml', bytes: Buffer.from(SAMPLE) }];
  }
  return readdirSync(corpus)
    .filter((f) => /\.(xml|gz|zip)$/.test(f) && !f.startsWith('invalid'))
    .slice(0, 6)
    .map((f) => ({ name: f, bytes: readFileSync(path.join(corpus, f)) }));
}

async function main(): Promise<void> {
  const store = new PgStore({ url: env.DATABASE_URL ?? 'postgres://dmarc:dmarc@127.0.0.1:5432/dmarc' });
  const bus = await createKafkaBus({
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    clientId: 'dmarc-demo',
    contracts: loadContracts(),
    connectRetry: { maxAttempts: 5 },
  });
  try {
    const created = await createTenant(store, { name: 'demo', tier: 'business', actor: 'demo' });
    const tenant = created.id;
    const seen = new Map<string, Delivered<'dmarc.reports.received'>>();
    const sub = await bus.consume({
      groupId: `dmarc-demo-${tenant}`,
      topics: ['dmarc.reports.received'],
      fromBeginning: false,
      handler: async (m) => {
        const d = m as Delivered<'dmarc.reports.received'>;
        if (d.tenantId === tenant) seen.set(d.value.filename ?? d.value.reportId, d);
      },
    });
    const files = reports();
    const publish = (f: { name: string; bytes: Buffer }) =>
      bus.publish('dmarc.reports.inbound', [
        { key: tenant, tenantId: tenant, value: { tenantId: tenant, payload: f.bytes, filename: f.name, source: 'demo', submittedAt: Date.now() } },
      ]);
    const t0 = Date.now();
    for (const f of files) await publish(f);
    console.log(`demo: tenant ${tenant}: published ${files.length} reports to dmarc.reports.inbound`);
    const deadline = Date.now() + 30_000;
    while (seen.size < files.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const f of files) {
      const d = seen.get(f.name);
      console.log(d ? `  ${f.name}: received as ${d.value.reportId} (${d.value.sizeBytes} bytes, sha256 ${d.value.sha256.slice(0, 12)}…)` : `  ${f.name}: NOT RECEIVED`);
    }
    console.log(`demo: ${seen.size}/${files.length} reports on dmarc.reports.received in ${Date.now() - t0} ms`);

    // The same bytes again: kept once, not handed to parsing twice.
    const before = seen.size;
    const received = new Map([...seen].map(([name, d]) => [name, d.value.reportId]));
    seen.clear();
    await publish(files[0]);
    await new Promise((r) => setTimeout(r, 3000));
    const rows = (await store.query<{ n: string }>('SELECT count(*) AS n FROM raw_reports WHERE tenant_id = $1', [tenant])).rows[0].n;
    console.log(`demo: resubmitted ${files[0].name}: ${seen.size === 0 ? 'recognised as a duplicate' : 'PUBLISHED AGAIN'}; raw_reports holds ${rows} rows for the tenant`);
    await sub.close();
    if (before !== files.length || seen.size !== 0) process.exitCode = 1;

    // Through the HTTP APIs, as a tenant's operator would: each report's status, then each domain's figures.
    const key = created.apiKey;
    const auth = { authorization: `Bearer ${key}` };
    const ingestion = env.INGESTION_URL ?? 'http://127.0.0.1:8081';
    const api = env.API_URL ?? 'http://127.0.0.1:8080';
    const call = async (method: string, route: string, body?: unknown) => {
      const t = process.hrtime.bigint();
      const res = await fetch(`${api}${route}`, {
        method,
        headers: body === undefined ? auth : { ...auth, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any>, ms: Number(process.hrtime.bigint() - t) / 1e6 };
    };
    const ids = files.map((f) => received.get(f.name)).filter((x): x is string => !!x);
    const statusOf = async (id: string) => ((await (await fetch(`${ingestion}/v1/reports/${id}`, { headers: auth })).json()) as { status: string; reason?: string });
    const settleBy = Date.now() + 30_000;
    let statuses = await Promise.all(ids.map(statusOf));
    while (statuses.some((s) => s.status === 'received' || s.status === 'parsed') && Date.now() < settleBy) {
      await new Promise((r) => setTimeout(r, 250));
      statuses = await Promise.all(ids.map(statusOf));
    }
    console.log(`demo: report status (GET ${ingestion}/v1/reports/{id}):`);
    ids.forEach((id, i) => console.log(`  ${id}: ${statuses[i].status}${statuses[i].reason ? ` (${statuses[i].reason})` : ''}`));
    // The corpus reports are from past years: ask for the year up to each domain's latest report day.
    const domains = (
      await store.query<{ domain: string; last: string; first: string }>(
        `SELECT domain, max(day)::text AS last, greatest(min(day), max(day) - 365)::text AS first
           FROM aggregate_counters WHERE tenant_id = $1 GROUP BY domain ORDER BY domain`,
        [tenant],
      )
    ).rows;
    console.log(`demo: the tenant API (${api}): each domain registered (POST /v1/domains), then its summary read twice (GET /v1/domains/{domain}/summary):`);
    for (const { domain, first, last } of domains) {
      const added = await call('POST', '/v1/domains', { name: domain });
      if (added.status !== 201 && added.status !== 200) {
        console.log(`  ${domain}: POST /v1/domains answered ${added.status} ${added.body.message ?? ''}`);
        process.exitCode = 1;
        continue;
      }
      const route = `/v1/domains/${encodeURIComponent(domain)}/summary?from=${first}&to=${last}`;
      const cold = await call('GET', route);
      const warm = await call('GET', route);
      const b = cold.body;
      if (cold.status !== 200 || !b.totals) {
        console.log(`  ${domain}: HTTP ${cold.status} ${b.message ?? ''}`);
        process.exitCode = 1;
      } else {
        const rate = b.complianceRate === null || b.complianceRate === undefined ? '-' : `${(b.complianceRate * 100).toFixed(1)} %`;
        console.log(`  ${domain.padEnd(28)} reports ${String(b.reports?.count ?? 0).padStart(3)}  messages ${String(b.totals.messages).padStart(6)}  DMARC pass ${rate.padStart(7)}  read ${cold.ms.toFixed(1)} ms, again ${warm.ms.toFixed(1)} ms (cache)`);
      }
    }
    if (domains.length > 0) {
      const { domain, first, last } = domains[0];
      const put = await call('PUT', `/v1/domains/${encodeURIComponent(domain)}/policy`, { p: 'quarantine', sp: 'none', pct: 50, adkim: 'r', aspf: 'r' });
      const after = await call('GET', `/v1/domains/${encodeURIComponent(domain)}/summary?from=${first}&to=${last}`);
      const audit = await call('GET', '/v1/audit');
      const entries = (audit.body.entries ?? audit.body.items ?? []) as Array<{ action?: string }>;
      console.log(`demo: PUT /v1/domains/${domain}/policy p=quarantine pct=50: ${put.status}; the next dashboard read shows configured policy ${JSON.stringify(after.body.configuredPolicy ?? null)}`);
      console.log(`demo: GET /v1/audit: ${entries.length} entries (${[...new Set(entries.map((e) => e.action))].join(', ')})`);
      if (put.status !== 200 || after.body.configuredPolicy?.pct !== 50) process.exitCode = 1;
      // Policy guidance over the last 30 days (the corpus reports are older: not enough data, said per step).
      const guidance = await call('GET', `/v1/domains/${encodeURIComponent(domain)}/guidance`);
      const steps = (guidance.body.steps ?? []) as Array<{ from: string; to: string; verdict: string }>;
      console.log(`demo: GET /v1/domains/${domain}/guidance: ${guidance.status} ${steps.map((x) => `${x.from} → ${x.to}: ${x.verdict}`).join('; ')}`);
      if (guidance.status !== 200) process.exitCode = 1;
    }
    // Threat alerts the reports raised (aggregation's rules; also published to dmarc.alerts).
    const alerts = await call('GET', '/v1/alerts');
    const raised = (alerts.body.alerts ?? []) as Array<{ rule: string; domain: string; severity: string }>;
    const byRule = [...new Set(raised.map((x) => x.rule))].map((rule) => `${rule} ${raised.filter((x) => x.rule === rule).length}`);
    console.log(`demo: GET /v1/alerts: ${alerts.status}, ${raised.length} alerts${byRule.length ? ` (${byRule.join(', ')})` : ''}`);
    if (alerts.status !== 200) process.exitCode = 1;
    console.log(`demo: the API key of the demo tenant is ${key}`);
  } finally {
    await bus.close();
    await store.close();
  }
}

main().catch((err) => {
  console.error(`demo: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  process.exitCode = 1;
});
