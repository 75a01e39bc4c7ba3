// How an upstream answer, a failure or an extension becomes an entry: TTL clamping (record TTL to
// [min, max]), negative caching by the SOA (RFC 2308) and stale-on-failure extensions (RFC 8767).
import type { DnsRecord, UpstreamAnswer } from '@dmarc/dns-wire';
import type { CachedType } from './dns-name';
import type { DnsEntry } from './entry';
import type { ResolvedPolicy } from './options';

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/** What the upstream's answer means for the cache. `chase` carries the CNAME target still to resolve. */
export type AnswerVerdict =
  | { kind: 'positive'; answers: DnsRecord[]; ttlSeconds: number }
  | { kind: 'negative'; rcode: 'NXDOMAIN' | 'NOERROR'; negativeTtlSeconds?: number }
  | { kind: 'chase'; target: string; cnameTtlSeconds: number }
  | { kind: 'failed'; rcode: DnsEntry['rcode'] };

export function judgeAnswer(type: CachedType, answer: UpstreamAnswer): AnswerVerdict {
  if (answer.rcode === 'NXDOMAIN') return { kind: 'negative', rcode: 'NXDOMAIN', negativeTtlSeconds: answer.negativeTtl };
  if (answer.rcode !== 'NOERROR') return { kind: 'failed', rcode: answer.rcode };
  const records = answer.answers.filter((r) => r.type === type);
  if (records.length > 0) {
    // The chain's CNAMEs bound the answer's life as much as the records do.
    const ttlSeconds = Math.min(...answer.answers.map((r) => r.ttl));
    return { kind: 'positive', answers: records, ttlSeconds };
  }
  const cnames = answer.answers.filter((r): r is DnsRecord & { type: 'CNAME'; target: string } => r.type === 'CNAME');
  if (cnames.length > 0) {
    return { kind: 'chase', target: cnames[cnames.length - 1].target, cnameTtlSeconds: Math.min(...cnames.map((r) => r.ttl)) };
  }
  return { kind: 'negative', rcode: 'NOERROR', negativeTtlSeconds: answer.negativeTtl };
}

function resolved(kind: 'positive' | 'negative', rcode: DnsEntry['rcode'], answers: readonly DnsRecord[], ttlMs: number, now: number, p: ResolvedPolicy): DnsEntry {
  const expiresAt = now + ttlMs;
  return {
    kind,
    rcode,
    answers,
    resolvedAt: now,
    prefetchAt: now + Math.floor(ttlMs * p.prefetchRatio),
    expiresAt,
    staleUntil: expiresAt + p.staleWhileRevalidateMs,
    staleLimit: expiresAt + Math.max(p.maxStaleMs, p.staleWhileRevalidateMs),
    retryAt: now,
    writtenAt: now,
  };
}

export function positiveEntry(answers: readonly DnsRecord[], ttlSeconds: number, now: number, p: ResolvedPolicy): DnsEntry {
  return resolved('positive', 'NOERROR', answers, clamp(ttlSeconds * 1000, p.minTtlMs, p.maxTtlMs), now, p);
}

export function negativeEntry(rcode: 'NXDOMAIN' | 'NOERROR', negativeTtlSeconds: number | undefined, now: number, p: ResolvedPolicy): DnsEntry {
  const ttlMs = negativeTtlSeconds === undefined ? p.negativeDefaultTtlMs : clamp(negativeTtlSeconds * 1000, p.negativeMinTtlMs, p.negativeMaxTtlMs);
  return resolved('negative', rcode, [], ttlMs, now, p);
}

/** Nothing stale to serve: the failure itself is remembered briefly so a dead upstream is not hammered. */
export function failedEntry(rcode: DnsEntry['rcode'], previous: DnsEntry | undefined, now: number, p: ResolvedPolicy): DnsEntry {
  const expiresAt = now + p.failureTtlMs;
  return {
    kind: 'failed',
    rcode,
    answers: [],
    resolvedAt: now,
    prefetchAt: expiresAt,
    expiresAt,
    staleUntil: expiresAt,
    staleLimit: expiresAt,
    retryAt: expiresAt,
    outageSince: previous?.outageSince ?? now,
    writtenAt: now,
  };
}

/**
 * A failed refresh of a resolved entry: RFC 8767 — keep serving it, for one more extension at most and never
 * past its stale limit; do not ask again before the recheck time. Undefined when the stale budget is spent.
 */
export function extendedEntry(current: DnsEntry, now: number, p: ResolvedPolicy): DnsEntry | undefined {
  if (current.kind === 'failed' || now >= current.staleLimit) return undefined;
  return {
    ...current,
    staleUntil: Math.min(current.staleLimit, Math.max(current.staleUntil, now + p.staleExtensionMs)),
    retryAt: now + p.failureRecheckMs,
    outageSince: current.outageSince ?? now,
    writtenAt: Math.max(now, current.writtenAt + 1),
  };
}
