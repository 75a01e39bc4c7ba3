// A tenant's alert rules as the API reads and writes them (alert_rules). Writes are configuration changes like
// the others of @dmarc/tenant-admin: one transaction with their audit row. No dmarc.config.changes event: no cache
// holds alert rules (detection reads them from PostgreSQL on every pass), so there is nothing to invalidate.
import type { Queryable } from '@dmarc/store';
import { appendAudit, commitChange, type Actor, type AdminContext } from '@dmarc/tenant-admin';
import { InvalidRuleSettingError } from './errors';
import { ALERT_RULE_IDS, defaultThresholds, validateThresholds, type AlertRuleId, type Thresholds } from './rule-settings';

/** One rule as the tenant sees it: whether it runs, the thresholds in force, the defaults, and what the tenant set. */
export interface AlertRuleView {
  rule: AlertRuleId;
  enabled: boolean;
  thresholds: Thresholds<AlertRuleId>;
  defaults: Thresholds<AlertRuleId>;
  /** The thresholds the tenant set (the rest are defaults). */
  overrides: Record<string, number>;
  /** When the tenant last changed the rule; null when it never did. */
  updatedAt: string | null;
  /** Set when the stored thresholds no longer validate (written around the API): the rule runs on its defaults. */
  problem?: string;
}

export interface AlertRuleInput {
  /** Default true. */
  enabled?: boolean;
  /** Some of the rule's thresholds; the others take their defaults. Replaces what was set before. Default {}. */
  thresholds?: unknown;
}

interface RuleRow {
  rule: string;
  enabled: boolean;
  thresholds: Record<string, number>;
  updated_at: Date;
}

function viewOf(rule: AlertRuleId, row: RuleRow | undefined): AlertRuleView {
  const defaults = defaultThresholds(rule);
  if (!row) return { rule, enabled: true, thresholds: defaults, defaults, overrides: {}, updatedAt: null };
  const view = { rule, enabled: row.enabled, defaults, overrides: row.thresholds, updatedAt: row.updated_at.toISOString() };
  try {
    return { ...view, thresholds: validateThresholds(rule, row.thresholds) };
  } catch (error) {
    if (!(error instanceof InvalidRuleSettingError)) throw error;
    return { ...view, thresholds: defaults, problem: error.message };
  }
}

async function rowsOf(db: Queryable, tenantId: string, rule?: AlertRuleId): Promise<Map<string, RuleRow>> {
  const { rows } = await db.query<RuleRow>(
    `SELECT rule, enabled, thresholds, updated_at FROM alert_rules WHERE tenant_id = $1::uuid AND ($2::text IS NULL OR rule = $2::text)${rule ? ' FOR UPDATE' : ''}`,
    [tenantId, rule ?? null],
  );
  return new Map(rows.map((r) => [r.rule, r]));
}

/** Every rule of the tenant, in the order of ALERT_RULE_IDS. */
export async function listAlertRules(db: Queryable, tenantId: string): Promise<AlertRuleView[]> {
  const rows = await rowsOf(db, tenantId);
  return ALERT_RULE_IDS.map((rule) => viewOf(rule, rows.get(rule)));
}

/**
 * Sets a rule for the tenant: enabled, and the thresholds it overrides (validated first: an invalid one is a
 * 400 naming it, nothing written). Audited in the same transaction; the same settings again write nothing.
 * @throws InvalidRuleSettingError for an unknown rule or an invalid threshold.
 */
export async function putAlertRule(ctx: AdminContext, actor: Actor, name: string, input: AlertRuleInput): Promise<AlertRuleView> {
  const overrides = input.thresholds ?? {};
  // Refuses an unknown rule too.
  validateThresholds(name as AlertRuleId, overrides);
  const rule = name as AlertRuleId;
  const wanted = { enabled: input.enabled ?? true, thresholds: overrides as Record<string, number> };
  return commitChange(ctx, async (tx) => {
    const before = (await rowsOf(tx, actor.tenantId, rule)).get(rule);
    if (before && before.enabled === wanted.enabled && sameThresholds(before.thresholds, wanted.thresholds)) return viewOf(rule, before);
    const { rows } = await tx.query<RuleRow>(
      `INSERT INTO alert_rules (tenant_id, rule, enabled, thresholds) VALUES ($1::uuid, $2, $3, $4::jsonb)
       ON CONFLICT (tenant_id, rule) DO UPDATE SET enabled = excluded.enabled, thresholds = excluded.thresholds, updated_at = now()
       RETURNING rule, enabled, thresholds, updated_at`,
      [actor.tenantId, rule, wanted.enabled, JSON.stringify(wanted.thresholds)],
    );
    await appendAudit(tx, {
      tenantId: actor.tenantId,
      actor: actor.name,
      action: 'alert_rule.update',
      entity: `alert-rule:${rule}`,
      before: before ? { enabled: before.enabled, thresholds: before.thresholds } : null,
      after: wanted,
    });
    return viewOf(rule, rows[0]);
  });
}

function sameThresholds(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
