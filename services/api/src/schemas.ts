// JSON schemas shared by the routes: Fastify validates requests and serialises answers with them, and
// @fastify/swagger turns them into the OpenAPI document at /docs/json.
import { ALIGNMENT_MODES, PERMISSIONS, POLICY_VALUES, TENANT_TIERS } from '@dmarc/tenant-admin';

export const errorBody = {
  type: 'object',
  description: 'Every error: a stable code, a message, and the offending field when there is one.',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
} as const;

/** The error answers every authenticated route may give. */
export const errors = { '4xx': errorBody, '5xx': errorBody } as const;

// Length only: the labels are checked by parseDomainName, which names the reason.
export const domainParam = { type: 'string', minLength: 1, maxLength: 254, description: 'A domain of the tenant, e.g. example.com' } as const;
export const uuid = { type: 'string', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' } as const;
export const domainParams = { type: 'object', required: ['domain'], additionalProperties: false, properties: { domain: domainParam } } as const;
export const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: uuid } } as const;

const policyValue = { type: 'string', enum: [...POLICY_VALUES] } as const;
const alignment = { type: 'string', enum: [...ALIGNMENT_MODES] } as const;
export const policyBody = {
  type: 'object',
  required: ['p'],
  additionalProperties: false,
  properties: {
    p: policyValue,
    sp: { anyOf: [policyValue, { type: 'null' }], description: 'subdomain policy; null or absent: the same as p' },
    pct: { type: 'integer', minimum: 0, maximum: 100, description: 'default 100' },
    adkim: { ...alignment, description: 'DKIM alignment, default r' },
    aspf: { ...alignment, description: 'SPF alignment, default r' },
  },
} as const;

export const policyView = {
  type: 'object',
  properties: {
    domain: { type: 'string' },
    p: { type: 'string' },
    sp: { type: ['string', 'null'] },
    pct: { type: 'integer' },
    adkim: { type: 'string' },
    aspf: { type: 'string' },
    version: { type: 'integer' },
    updatedAt: { type: 'string' },
  },
} as const;

export const domainView = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    createdAt: { type: 'string' },
    policy: { anyOf: [policyView, { type: 'null' }] },
    approvedSources: { type: 'integer' },
  },
} as const;

export const sourceView = {
  type: 'object',
  properties: { id: { type: 'string' }, kind: { type: 'string' }, source: { type: 'string' }, description: { type: ['string', 'null'] }, createdAt: { type: 'string' } },
} as const;

export const permission = { type: 'string', enum: [...PERMISSIONS] } as const;
export const userView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    email: { type: 'string' },
    name: { type: ['string', 'null'] },
    permissions: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const apiKeyView = {
  type: 'object',
  properties: { id: { type: 'string' }, label: { type: ['string', 'null'] }, createdAt: { type: 'string' } },
} as const;

export const tenantView = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' }, tier: { type: 'string', enum: [...TENANT_TIERS] }, createdAt: { type: 'string' } },
} as const;

const anything = {} as const;
export const auditEntry = {
  type: 'object',
  properties: { id: { type: 'integer' }, at: { type: 'string' }, actor: { type: 'string' }, action: { type: 'string' }, entity: { type: 'string' }, before: anything, after: anything },
} as const;
