import { defineConfig, loadConfig, url } from '@dmarc/config';
import { PgStore } from '@dmarc/store';
import { createTenant, isTenantTier, TENANT_TIERS } from '@dmarc/tenant-admin';
import type { CommandIO } from '../command-io';

const USAGE = `usage: dmarc tenant create NAME --tier ${TENANT_TIERS.join('|')}`;
const tenantConfig = defineConfig({ DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'], secret: true }) });

/**
 * `dmarc tenant create NAME --tier T`: a tenant and its first API key, printed as one JSON line
 * {"id","name","tier","apiKey"}. The key is shown here once; only its hash is stored. Usage errors exit 64
 * (EX_USAGE) with one line, before the database is touched.
 */
export async function tenant(args: string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'create') return usage(io, sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);
  let name: string | undefined;
  let tier: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--tier') tier = rest[++i];
    else if (arg.startsWith('--tier=')) tier = arg.slice('--tier='.length);
    else if (arg.startsWith('--')) return usage(io, `unknown option ${arg}`);
    else if (name === undefined) name = arg;
    else return usage(io, `unexpected argument ${JSON.stringify(arg)}`);
  }
  if (name === undefined || name.trim() === '') return usage(io, 'missing NAME');
  if (tier === undefined) return usage(io, 'missing --tier');
  if (!isTenantTier(tier)) return usage(io, `--tier must be one of ${TENANT_TIERS.join(', ')}, got ${JSON.stringify(tier)}`);

  const config = loadConfig(tenantConfig, io.env);
  const store = new PgStore({ url: config.DATABASE_URL, applicationName: 'dmarc-cli' });
  try {
    const created = await createTenant(store, { name, tier, actor: 'cli' });
    io.out(JSON.stringify({ id: created.id, name: created.name, tier: created.tier, apiKey: created.apiKey }));
    return 0;
  } finally {
    await store.close();
  }
}

function usage(io: CommandIO, why: string): number {
  io.err(`dmarc tenant: ${why}; ${USAGE}`);
  return 64;
}
