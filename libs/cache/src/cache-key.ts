// Key format: `tenant:{id}:{type}:{seg}:{seg}...` or `global:{type}:{seg}...`, every part escaped, so a colon,
// a glob character or a brace in a domain name or tenant id can never start a new part or reach another
// tenant's keys. Escaping is injective: outside [A-Za-z0-9._-] each UTF-16 code unit becomes `%XX` (below
// 0x80) or `%uXXXX`, and `%` itself is escaped, so two different parts never give the same text.
import { InvalidKeyError } from './errors';

export type TenantTier = 'starter' | 'business' | 'enterprise';
export type CacheScope = { tenantId: string; tier: TenantTier } | 'global';

const TIERS: readonly string[] = ['starter', 'business', 'enterprise'];

// Without the `u` flag the class matches single UTF-16 code units, so a lone surrogate is escaped on its own.
const UNSAFE = /[^A-Za-z0-9._-]/g;

export function escapeKeyPart(part: string): string {
  return part.replace(UNSAFE, (ch) => {
    const c = ch.charCodeAt(0);
    return c < 0x80 ? `%${c.toString(16).padStart(2, '0')}` : `%u${c.toString(16).padStart(4, '0')}`;
  });
}

/** `tenant:{id}` or `global`: whose memory budget an entry counts against. */
export function partitionOf(scope: CacheScope): string {
  if (scope === 'global') return 'global';
  if (typeof scope.tenantId !== 'string' || scope.tenantId === '') throw new InvalidKeyError('tenantId must be a non-empty string');
  // The tier picks the memory budget: an unknown one would mean no budget at all.
  if (!TIERS.includes(scope.tier)) throw new InvalidKeyError(`unknown tenant tier ${JSON.stringify(scope.tier)}`);
  return `tenant:${escapeKeyPart(scope.tenantId)}`;
}

function typePart(type: string): string {
  if (typeof type !== 'string' || type === '') throw new InvalidKeyError('type must be a non-empty string');
  return escapeKeyPart(type);
}

export function cacheKey(scope: CacheScope, type: string, id: readonly string[]): string {
  if (!Array.isArray(id) || id.length === 0) throw new InvalidKeyError('id must have at least one segment');
  let key = `${partitionOf(scope)}:${typePart(type)}`;
  for (const segment of id) {
    if (typeof segment !== 'string') throw new InvalidKeyError('id segments must be strings');
    key += `:${escapeKeyPart(segment)}`;
  }
  return key;
}

/**
 * What every key of one group starts with: `...:{type}:{group}`. A key is in the group when it equals this
 * (id = [group]) or continues with `:` (id = [group, ...]); `example.com` never matches `example.com.evil`.
 */
export function groupBase(scope: CacheScope, type: string, group: string): string {
  return cacheKey(scope, type, [group]);
}

/** The Redis set indexing a group's keys. `~` is always escaped inside parts, so no entry key can equal it. */
export const groupIndexKey = (base: string): string => `${base}:~idx`;

/** The group of a key: its base (partition, type, first id segment). */
export function groupBaseOfKey(key: string, scope: CacheScope): string {
  // partition has 2 parts for tenants, 1 for global; then type, then the group segment.
  const parts = scope === 'global' ? 3 : 4;
  let at = -1;
  for (let i = 0; i < parts; i++) {
    at = key.indexOf(':', at + 1);
    if (at < 0) return key;
  }
  return key.slice(0, at);
}

export const isInGroup = (key: string, base: string): boolean => key === base || key.startsWith(`${base}:`);
