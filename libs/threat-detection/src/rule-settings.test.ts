import { InvalidRuleSettingError } from './errors';
import { ALERT_RULE_IDS, defaultThresholds, resolveRuleSettings, THRESHOLD_SPECS, validateThresholds, type AlertRuleId } from './rule-settings';

const refused = (rule: string, overrides: unknown): InvalidRuleSettingError => {
  try {
    validateThresholds(rule as AlertRuleId, overrides);
  } catch (error) {
    if (error instanceof InvalidRuleSettingError) return error;
    throw error;
  }
  throw new Error(`${rule} ${JSON.stringify(overrides)} was accepted`);
};

describe('validateThresholds', () => {
  it('fills the defaults in around what the tenant set', () => {
    expect(validateThresholds('spoofing', { minMessages: 5 })).toEqual({ minMessages: 5, dedupeMinutes: 60 });
    expect(validateThresholds('failure_spike', {})).toEqual(defaultThresholds('failure_spike'));
    expect(validateThresholds('failure_spike', { minIncrease: 0.5, factor: 1 })).toMatchObject({ minIncrease: 0.5, factor: 1, baselineDays: 7 });
  });

  it('gives every rule a default within its own range', () => {
    for (const rule of ALERT_RULE_IDS) {
      for (const [key, spec] of Object.entries(THRESHOLD_SPECS[rule] as Record<string, { min: number; max: number; default: number }>)) {
        expect({ rule, key, ok: spec.default >= spec.min && spec.default <= spec.max }).toEqual({ rule, key, ok: true });
      }
      expect(validateThresholds(rule, defaultThresholds(rule))).toEqual(defaultThresholds(rule));
    }
  });

  it.each([
    ['spoofing', { minMessages: 0 }, 'spoofing.minMessages must be an integer ≥ 1, not 0', 'thresholds.minMessages'],
    ['spoofing', { minMessages: -5 }, 'spoofing.minMessages must be an integer ≥ 1, not -5', 'thresholds.minMessages'],
    ['spoofing', { minMessages: 2.5 }, 'spoofing.minMessages must be an integer ≥ 1, not 2.5', 'thresholds.minMessages'],
    ['spoofing', { minMessages: '100' }, 'spoofing.minMessages must be an integer ≥ 1, not "100"', 'thresholds.minMessages'],
    ['spoofing', { minMessages: null }, 'spoofing.minMessages must be an integer ≥ 1, not null', 'thresholds.minMessages'],
    ['spoofing', { minMessages: 1e300 }, 'spoofing.minMessages must be an integer ≥ 1, not 1e+300', 'thresholds.minMessages'],
    ['spoofing', { dedupeMinutes: 0 }, 'spoofing.dedupeMinutes must be an integer from 1 to 10080, not 0', 'thresholds.dedupeMinutes'],
    ['new_source', { ipv4Prefix: 33 }, 'new_source.ipv4Prefix must be an integer from 8 to 32, not 33', 'thresholds.ipv4Prefix'],
    ['failure_spike', { minIncrease: 0 }, 'failure_spike.minIncrease must be a number from 0.01 to 1, not 0', 'thresholds.minIncrease'],
    ['failure_spike', { factor: 0.5 }, 'failure_spike.factor must be a number from 1 to 1000, not 0.5', 'thresholds.factor'],
    ['dns_weakened', { minPctDrop: 101 }, 'dns_weakened.minPctDrop must be an integer from 1 to 100, not 101', 'thresholds.minPctDrop'],
    ['spoofing', { minMesages: 10 }, 'spoofing.minMesages is not a threshold of spoofing (minMessages, dedupeMinutes)', 'thresholds.minMesages'],
    ['spoofing', { __proto__: 1, toString: 2 }, 'spoofing.toString is not a threshold of spoofing (minMessages, dedupeMinutes)', 'thresholds.toString'],
    ['spoofing', [1, 2], 'spoofing thresholds must be an object of thresholds, not [1,2]', 'thresholds'],
    ['spoofing', 'lots', 'spoofing thresholds must be an object of thresholds, not "lots"', 'thresholds'],
    ['phishing', {}, '"phishing" is not an alert rule (spoofing, new_source, failure_spike, dns_weakened, dns_update_failed)', 'rule'],
  ])('%s %j: %s', (rule, overrides, message, field) => {
    const error = refused(rule, overrides);
    expect({ message: error.message, field: error.field, code: error.code, status: error.statusCode, retriable: error.retriable }).toEqual({
      message,
      field,
      code: 'VALIDATION_FAILED',
      status: 400,
      retriable: false,
    });
  });

  it('echoes a hostile value short and printable', () => {
    const error = refused('spoofing', { minMessages: `${'x'.repeat(500)}\u0000\n` });
    expect(error.message.length).toBeLessThan(120);
    expect(error.message).not.toMatch(/[\u0000\n]/);
  });
});

describe('resolveRuleSettings', () => {
  it('runs every rule enabled with its defaults for a tenant without rows', () => {
    const settings = resolveRuleSettings([]);
    for (const rule of ALERT_RULE_IDS) expect(settings[rule]).toEqual({ rule, enabled: true, thresholds: defaultThresholds(rule) });
  });

  it('applies stored rows, ignores unknown rules, and runs a row with invalid thresholds on its defaults, saying so', () => {
    const invalid: string[] = [];
    const settings = resolveRuleSettings(
      [
        { rule: 'spoofing', enabled: true, thresholds: { minMessages: 7 } },
        { rule: 'new_source', enabled: false, thresholds: {} },
        { rule: 'failure_spike', enabled: true, thresholds: { factor: -1 } },
        { rule: 'from_the_future', enabled: true, thresholds: { anything: 1 } },
      ],
      (rule, error) => invalid.push(`${rule}: ${error.message}`),
    );
    expect(settings.spoofing.thresholds.minMessages).toBe(7);
    expect(settings.new_source.enabled).toBe(false);
    expect(settings.failure_spike).toEqual({ rule: 'failure_spike', enabled: true, thresholds: defaultThresholds('failure_spike') });
    expect(invalid).toEqual(['failure_spike: failure_spike.factor must be a number from 1 to 1000, not -1']);
  });
});
