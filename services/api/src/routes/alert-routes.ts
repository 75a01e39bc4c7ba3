import { parseDomainName } from '@dmarc/tenant-admin';
import { ALERT_RULE_IDS, listAlertRules, listAlerts, putAlertRule, type AlertRuleInput, type StoredAlert } from '@dmarc/threat-detection';
import type { FastifyInstance } from 'fastify';
import { adminContext, type ApiDeps } from '../api-deps';
import { actorOf, callerOf } from '../request-context';
import { domainParam, errors, uuid } from '../schemas';

const tags = ['alerts'];
const ruleName = { type: 'string', enum: [...ALERT_RULE_IDS] } as const;
const numbers = { type: 'object', additionalProperties: { type: 'number' } } as const;

const alertView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    domain: { type: 'string' },
    rule: { type: 'string' },
    severity: { type: 'string' },
    title: { type: 'string' },
    summary: { type: 'string' },
    evidence: { type: 'object', additionalProperties: true, description: 'as in the dmarc.alerts schema (schemas/dmarc.alerts/v1.avsc)' },
    windowStart: { type: 'string' },
    windowEnd: { type: 'string' },
    detectedAt: { type: 'string' },
    traceId: { type: ['string', 'null'] },
    publishedAt: { type: ['string', 'null'], description: 'when dmarc.alerts took it; null while it waits for the relay' },
  },
} as const;

const ruleView = {
  type: 'object',
  properties: {
    rule: { type: 'string' },
    enabled: { type: 'boolean' },
    thresholds: { ...numbers, description: 'in force: the tenant’s overrides over the defaults' },
    defaults: numbers,
    overrides: numbers,
    updatedAt: { type: ['string', 'null'] },
    problem: { type: 'string', description: 'set when the stored thresholds no longer validate; the rule runs on its defaults' },
  },
} as const;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const view = (a: StoredAlert) => ({
  ...a,
  windowStart: iso(a.windowStart),
  windowEnd: iso(a.windowEnd),
  detectedAt: iso(a.detectedAt),
  publishedAt: iso(a.publishedAt),
});

/**
 * The tenant's threat alerts and its alert rules (@dmarc/threat-detection). Alerts are read from PostgreSQL on every
 * request, never from a cache (TTL 0). A rule write is validated by the library (an invalid threshold is a 400
 * naming it) and audited in its transaction.
 */
export function registerAlertRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const ctx = adminContext(deps);

  app.get<{ Querystring: { domain?: string; rule?: string; limit: number; before?: string } }>(
    '/v1/alerts',
    {
      schema: {
        tags,
        summary: "The tenant's alerts, newest first",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            domain: domainParam,
            rule: ruleName,
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            before: { ...uuid, description: 'an alert id from the previous page: only older alerts' },
          },
        },
        response: { 200: { type: 'object', properties: { alerts: { type: 'array', items: alertView } } }, ...errors },
      },
    },
    async (request) => {
      const { domain, rule, limit, before } = request.query;
      const alerts = await listAlerts(deps.db, callerOf(request).tenantId, { domain: domain === undefined ? undefined : parseDomainName(domain, 'domain'), rule, limit, before });
      return { alerts: alerts.map(view) };
    },
  );

  app.get('/v1/alert-rules', { schema: { tags, summary: "The tenant's alert rules and their thresholds", response: { 200: { type: 'object', properties: { rules: { type: 'array', items: ruleView } } }, ...errors } } }, async (request) => ({
    rules: await listAlertRules(deps.db, callerOf(request).tenantId),
  }));

  app.put<{ Params: { rule: string }; Body: AlertRuleInput }>(
    '/v1/alert-rules/:rule',
    {
      bodyLimit: deps.maxBodyBytes,
      schema: {
        tags,
        summary: 'Enable or disable a rule and set its thresholds (those not given take their defaults)',
        params: { type: 'object', required: ['rule'], additionalProperties: false, properties: { rule: ruleName } },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enabled: { type: 'boolean', description: 'default true' },
            thresholds: { type: 'object', description: 'threshold name → number; checked per rule, an invalid one is a 400 naming it (field thresholds.<name>)' },
          },
        },
        response: { 200: ruleView, ...errors },
      },
    },
    async (request) => putAlertRule(ctx, actorOf(request), request.params.rule, request.body),
  );
}
