// Approving a proposed source: the tenant's ordinary approved-source write (@dmarc/tenant-admin addSource: the
// row, its audit row and its dmarc.config.changes outbox row in one transaction), allowed only for a source that
// is proposed now, and idempotent for one already approved.
import { addSource, ConflictError, InvalidInputError, listSources, NotFoundError, parseSource, type Actor, type AdminContext, type ApprovedSource } from '@dmarc/tenant-admin';
import type { GuidanceThresholds } from './guidance-thresholds';
import { guidanceWindow, loadWindowFigures } from './guidance-queries';
import { percent } from './source-evidence';
import { ApprovedSourceMatcher, sourceIpOf } from './source-matching';
import { proposeSources, type SourceProposal } from './source-proposals';

export interface ApprovalInput {
  /** The proposed source's IP address (any spelling of it). */
  source: string;
  /** Kept with the approval; default: the evidence it was proposed on. */
  description?: string | null;
}

export interface ApprovalResult {
  /** False when an approval already covered the source (nothing written). */
  created: boolean;
  /** The approval now covering the source: the new one, or the one that already did (an IP, CIDR or host). */
  approvedSource: ApprovedSource;
  /** The proposal it was approved on; null when nothing was written. */
  proposal: SourceProposal | null;
}

/**
 * Approves a source proposed for `domain` now. A source already covered by an approval answers that approval
 * and writes nothing (so approving twice is harmless); a source that is not proposed (never was, or no longer
 * is, or the domain is not the tenant's) is NotFoundError; text that is not an IP address is InvalidInputError
 * naming `source`.
 */
export async function approveProposal(ctx: AdminContext, actor: Actor, domain: string, input: ApprovalInput, options: { now: number; thresholds?: Partial<GuidanceThresholds> }): Promise<ApprovalResult> {
  const ip = proposedIp(input.source);
  const [approved, { figures }] = await Promise.all([
    listSources(ctx.db, actor.tenantId, domain),
    loadWindowFigures(ctx.db, actor.tenantId, domain, guidanceWindow(options.now, options.thresholds)),
  ]);
  const seen = figures.sources.find((s) => s.sourceIp === ip);
  const covering = new ApprovedSourceMatcher(approved).match({ sourceIp: ip, baseDomain: seen?.baseDomain ?? null });
  if (covering) return { created: false, approvedSource: covering, proposal: null };

  const proposal = proposeSources({ figures, approved, thresholds: options.thresholds }).proposals.find((p) => p.source === ip);
  if (!proposal) throw new NotFoundError(`source proposal ${ip} for ${domain}`);
  try {
    const approvedSource = await addSource(ctx, actor, domain, { source: ip, description: input.description ?? describe(proposal) });
    return { created: true, approvedSource, proposal };
  } catch (err) {
    // Approved by a concurrent request since the list was read: the same outcome as approving twice.
    if (!(err instanceof ConflictError)) throw err;
    const now = (await listSources(ctx.db, actor.tenantId, domain)).find((s) => s.source === ip);
    if (!now) throw err;
    return { created: false, approvedSource: now, proposal: null };
  }
}

function proposedIp(text: string): string {
  const ip = sourceIpOf(text);
  if (ip !== null) return ip;
  // A CIDR block or host name is a valid approval, only not one a proposal makes: say where it goes.
  let kind: string | undefined;
  try {
    kind = parseSource(text).kind;
  } catch {
    kind = undefined;
  }
  const hint = kind === 'cidr' || kind === 'host' ? ` (a ${kind === 'cidr' ? 'CIDR block' : 'host name'} is approved through POST /v1/domains/{domain}/sources/approved)` : '';
  throw new InvalidInputError('source', `source must be the IP address of a proposed source, got ${JSON.stringify(text.slice(0, 64))}${hint}`);
}

const describe = (p: SourceProposal): string =>
  `approved from a proposal: ${percent(p.dkimAlignedRate)} of ${p.messages} messages DKIM-aligned on ${p.days} days (${p.firstDay}..${p.lastDay})`;
