import { InvalidRuleSettingError } from './errors';

/** The rules a tenant can tune. Every one runs, with its defaults, for a tenant that never set it. */
export const ALERT_RULE_IDS = ['spoofing', 'new_source', 'failure_spike', 'dns_weakened', 'dns_update_failed'] as const;
export type AlertRuleId = (typeof ALERT_RULE_IDS)[number];

interface ThresholdSpec {
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  readonly default: number;
  readonly description: string;
}

const WEEK_MINUTES = 7 * 24 * 60;
const dedupe = (minutes: number): ThresholdSpec => ({
  integer: true,
  min: 1,
  max: WEEK_MINUTES,
  default: minutes,
  description: 'minutes during which a second trigger of the rule for the same domain raises no new alert',
});
const messages = (count: number, what: string): ThresholdSpec => ({ integer: true, min: 1, max: Number.MAX_SAFE_INTEGER, default: count, description: what });

/** Every threshold of every rule: its range and its default. The one place the API, the store and the rules read them from. */
export const THRESHOLD_SPECS = {
  spoofing: {
    minMessages: messages(100, 'messages failing both DKIM and SPF alignment from unapproved sources in one report day'),
    dedupeMinutes: dedupe(60),
  },
  new_source: {
    minMessages: messages(1, 'failing messages a never-seen, unapproved source must send before it is reported'),
    ipv4Prefix: { integer: true, min: 8, max: 32, default: 24, description: 'an IPv4 source without a PTR name is known by its network of this prefix' },
    ipv6Prefix: { integer: true, min: 16, max: 128, default: 48, description: 'an IPv6 source without a PTR name is known by its network of this prefix' },
    dedupeMinutes: dedupe(60),
  },
  failure_spike: {
    minMessages: messages(100, 'messages of the domain in the report day before its failure rate counts'),
    baselineDays: { integer: true, min: 1, max: 90, default: 7, description: 'days before the report day whose failure rate is the baseline' },
    baselineMinMessages: messages(100, 'messages the baseline days must hold to be a baseline'),
    minIncrease: { integer: false, min: 0.01, max: 1, default: 0.2, description: 'rise of the failure rate over the baseline, in points of 0..1' },
    factor: { integer: false, min: 1, max: 1000, default: 2, description: 'the failure rate must also be at least this many times the baseline' },
    dedupeMinutes: dedupe(360),
  },
  dns_weakened: {
    minPctDrop: { integer: true, min: 1, max: 100, default: 1, description: 'points a cut of the DMARC pct must take to be reported' },
    dedupeMinutes: dedupe(60),
  },
  dns_update_failed: {
    dedupeMinutes: dedupe(60),
  },
} as const satisfies Record<AlertRuleId, Record<string, ThresholdSpec>>;

export type Thresholds<R extends AlertRuleId> = { readonly [K in keyof (typeof THRESHOLD_SPECS)[R]]: number };

export interface RuleSetting<R extends AlertRuleId = AlertRuleId> {
  rule: R;
  enabled: boolean;
  thresholds: Thresholds<R>;
}

/** Every rule's settings for one tenant, resolved: defaults where the tenant set nothing. */
export type RuleSettings = { readonly [R in AlertRuleId]: RuleSetting<R> };

export function isAlertRuleId(name: string): name is AlertRuleId {
  return (ALERT_RULE_IDS as readonly string[]).includes(name);
}

export function defaultThresholds<R extends AlertRuleId>(rule: R): Thresholds<R> {
  const specs: Record<string, ThresholdSpec> = THRESHOLD_SPECS[rule];
  return Object.fromEntries(Object.entries(specs).map(([key, spec]) => [key, spec.default])) as Thresholds<R>;
}

/**
 * The one check of a rule's thresholds, wherever they come from (an API body, a stored row): `overrides` is an
 * object of some of the rule's thresholds; the result is every threshold, the defaults filled in.
 * @throws InvalidRuleSettingError naming the rule, the threshold and the reason, e.g.
 *   `spoofing.minMessages must be an integer ≥ 1, not 0` (field `thresholds.minMessages`).
 */
export function validateThresholds<R extends AlertRuleId>(rule: R, overrides: unknown): Thresholds<R> {
  if (!isAlertRuleId(rule)) {
    throw new InvalidRuleSettingError(`${describe(rule)} is not an alert rule (${ALERT_RULE_IDS.join(', ')})`, 'rule');
  }
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new InvalidRuleSettingError(`${rule} thresholds must be an object of thresholds, not ${describe(overrides)}`, 'thresholds');
  }
  const specs: Record<string, ThresholdSpec> = THRESHOLD_SPECS[rule];
  const resolved: Record<string, number> = { ...defaultThresholds(rule) };
  for (const [key, value] of Object.entries(overrides)) {
    const spec = Object.prototype.hasOwnProperty.call(specs, key) ? specs[key] : undefined;
    if (!spec) {
      throw new InvalidRuleSettingError(`${rule}.${key} is not a threshold of ${rule} (${Object.keys(specs).join(', ')})`, `thresholds.${key}`);
    }
    const ok = typeof value === 'number' && Number.isFinite(value) && (!spec.integer || Number.isInteger(value)) && value >= spec.min && value <= spec.max;
    if (!ok) throw new InvalidRuleSettingError(`${rule}.${key} must be ${rangeOf(spec)}, not ${describe(value)}`, `thresholds.${key}`);
    resolved[key] = value;
  }
  return resolved as Thresholds<R>;
}

/** A tenant's stored rule row (alert_rules). */
export interface StoredRule {
  rule: string;
  enabled: boolean;
  thresholds: unknown;
}

/**
 * Every rule's settings from a tenant's stored rows. A row whose thresholds do not validate (written around the
 * API) runs the rule with its defaults and is handed to `onInvalid` to be logged: one bad row must neither stop
 * detection nor silence the rule. Rows of rules this version does not know are ignored.
 */
export function resolveRuleSettings(rows: readonly StoredRule[], onInvalid?: (rule: AlertRuleId, error: InvalidRuleSettingError) => void): RuleSettings {
  const settings = Object.fromEntries(ALERT_RULE_IDS.map((rule) => [rule, { rule, enabled: true, thresholds: defaultThresholds(rule) }])) as Record<AlertRuleId, RuleSetting>;
  for (const row of rows) {
    if (!isAlertRuleId(row.rule)) continue;
    const rule = row.rule;
    let thresholds: Thresholds<AlertRuleId>;
    try {
      thresholds = validateThresholds(rule, row.thresholds);
    } catch (error) {
      if (!(error instanceof InvalidRuleSettingError)) throw error;
      onInvalid?.(rule, error);
      thresholds = defaultThresholds(rule);
    }
    settings[rule] = { rule, enabled: row.enabled !== false, thresholds };
  }
  return settings as unknown as RuleSettings;
}

function rangeOf(spec: ThresholdSpec): string {
  const kind = spec.integer ? 'an integer' : 'a number';
  return spec.max === Number.MAX_SAFE_INTEGER ? `${kind} ≥ ${spec.min}` : `${kind} from ${spec.min} to ${spec.max}`;
}

// What was given, short and printable: it goes into an error message and a log line.
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}
