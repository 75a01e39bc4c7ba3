import { approveProposal, domainGuidance, domainProposals, type ApprovalInput } from '@dmarc/policy-guidance';
import { parseDomainName } from '@dmarc/tenant-admin';
import type { FastifyInstance } from 'fastify';
import { adminContext, afterCommit, cacheScope, type ApiDeps } from '../api-deps';
import { actorOf, callerOf } from '../request-context';
import { domainParams, errors, sourceView } from '../schemas';

const tags = ['guidance'];

const text = { type: 'string' } as const;
const nullableText = { type: ['string', 'null'] } as const;
const share = { type: 'number', description: 'a share in [0, 1]' } as const;
const count = { type: 'integer' } as const;
const approvedRef = { type: 'object', properties: { kind: text, source: text } } as const;
const evidenceProperties = {
  sourceIp: text,
  ptr: nullableText,
  baseDomain: nullableText,
  messages: count,
  share,
  alignedRate: { ...share, description: 'DMARC pass (DKIM or SPF aligned) / messages' },
  dkimAlignedRate: share,
  spfAlignedRate: share,
  days: { ...count, description: 'days of the window it sent on' },
  firstDay: text,
  lastDay: text,
  worstDayDkimRate: { type: ['number', 'null'] },
} as const;
const evidence = { type: 'object', properties: { ...evidenceProperties, approvedBy: { anyOf: [approvedRef, { type: 'null' }] } } } as const;
const proposal = { type: 'object', properties: { source: text, kind: { type: 'string', enum: ['ip'] }, ...evidenceProperties } } as const;
const numbers = (names: string[]) => ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'number' }])) });
const windowProperties = { domain: text, from: { ...text, description: 'first UTC day of the window' }, to: { ...text, description: 'last UTC day of the window (today)' } } as const;

const guidanceView = {
  type: 'object',
  properties: {
    ...windowProperties,
    currentPolicy: { type: 'object', properties: { p: text, pct: count, origin: { type: 'string', enum: ['configured', 'reported', 'unknown'] } } },
    thresholds: numbers(['windowDays', 'alignedRate', 'highVolumeShare', 'minDays', 'minMessages', 'proposalDkimRate', 'proposalMinDays', 'proposalMinMessages']),
    data: numbers(['windowDays', 'daysWithData', 'messages', 'sources']),
    steps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          from: text,
          to: text,
          verdict: { type: 'string', enum: ['applied', 'safe', 'blocked', 'not_enough_data'] },
          reasons: {
            type: 'array',
            items: { type: 'object', properties: { code: text, blocking: { type: 'boolean' }, message: text, sources: { type: 'array', items: text } } },
          },
        },
      },
    },
    legitimateSources: { type: 'array', items: evidence },
    unapprovedHighVolume: { type: 'array', items: evidence },
    unapproved: { type: 'object', properties: { sources: count, messages: count, dmarcPass: count, share: { type: ['number', 'null'] } } },
  },
} as const;

const proposalsView = {
  type: 'object',
  properties: {
    ...windowProperties,
    thresholds: numbers(['windowDays', 'proposalDkimRate', 'proposalMinDays', 'proposalMinMessages']),
    proposals: { type: 'array', items: proposal },
  },
} as const;

const approvalView = {
  type: 'object',
  properties: {
    created: { type: 'boolean', description: 'false: an approval already covered the source, nothing was written' },
    approvedSource: sourceView,
    proposal: { anyOf: [proposal, { type: 'null' }] },
  },
} as const;

/**
 * Policy guidance and source proposals of a registered domain (libs/policy-guidance), over the last 30 days.
 * Reads are cached as 'compliance' entries of the domain (30 s), which a policy or approved-source change drops
 * (this process at once, the others through the cache-invalidator); a domain that is not the tenant's is 404
 * (the check runs inside the load). Approving a proposal is the approved-source write of the domain routes.
 */
export function registerGuidanceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const now = deps.now ?? Date.now;
  const ctx = adminContext(deps);

  const reads = [
    ['guidance', 'Whether the domain can move none → quarantine → reject, with the evidence (see services/api/README.md, Policy guidance)', guidanceView, domainGuidance],
    ['source-proposals', 'Unapproved sources steadily passing aligned DKIM, proposed for approval, with the evidence', proposalsView, domainProposals],
  ] as const;
  for (const [name, summary, view, load] of reads) {
    app.get<{ Params: { domain: string } }>(`/v1/domains/:domain/${name}`, { schema: { tags, summary, params: domainParams, response: { 200: view, ...errors } } }, async (request) => {
      const caller = callerOf(request);
      const domain = parseDomainName(request.params.domain, 'domain');
      return deps.cache.getOrLoad<unknown>(cacheScope(caller), 'compliance', [domain, name], () => load(deps.db, { tenantId: caller.tenantId, domain, now: now() }));
    });
  }

  app.post<{ Params: { domain: string }; Body: ApprovalInput }>(
    '/v1/domains/:domain/source-proposals/approve',
    {
      bodyLimit: deps.maxBodyBytes,
      schema: {
        tags,
        summary: 'Approve a proposed source (201); one an approval already covers answers that approval (200) and writes nothing',
        params: domainParams,
        body: {
          type: 'object',
          required: ['source'],
          additionalProperties: false,
          properties: {
            source: { type: 'string', minLength: 1, maxLength: 64, description: 'the IP address of a source proposed now' },
            description: { type: ['string', 'null'], maxLength: 500, description: 'default: the evidence it was proposed on' },
          },
        },
        response: { 200: approvalView, 201: approvalView, ...errors },
      },
    },
    async (request, reply) => {
      const domain = parseDomainName(request.params.domain, 'domain');
      const result = await approveProposal(ctx, actorOf(request), domain, request.body, { now: now() });
      if (result.created) {
        const scope = cacheScope(callerOf(request));
        // As any approved-source change: what is judged against the sources goes (the invalidator does the same from the event).
        await afterCommit(deps, 'source approved', [() => deps.cache.invalidateGroup(scope, 'compliance', domain), () => deps.cache.invalidateGroup(scope, 'dashboard', domain)]);
      }
      return reply.status(result.created ? 201 : 200).send(result);
    },
  );
}
