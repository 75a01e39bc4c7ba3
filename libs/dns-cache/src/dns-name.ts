// Names and types are checked before anything else: a bad name is never sent upstream and never reaches a
// cache key; the key parts are escaped anyway, so no name can reach into another key space.
import { InvalidNameError, UnsupportedTypeError } from './errors';

/** The record types the cache serves. */
export type CachedType = 'TXT' | 'MX' | 'A' | 'AAAA' | 'PTR';

const TYPES: ReadonlySet<string> = new Set<CachedType>(['TXT', 'MX', 'A', 'AAAA', 'PTR']);

// Hostname characters plus '_' (DMARC, DKIM and SRV-style labels: `_dmarc`, `s1._domainkey`).
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

export function isCachedType(type: string): type is CachedType {
  return TYPES.has(type);
}

export function checkType(type: string): CachedType {
  const upper = typeof type === 'string' ? type.toUpperCase() : '';
  if (!isCachedType(upper)) throw new UnsupportedTypeError(String(type));
  return upper;
}

/** Lower-cased, without the root dot; throws InvalidNameError with the reason. */
export function normalizeName(input: string): string {
  if (typeof input !== 'string') throw new InvalidNameError(String(input), 'not a string');
  let name = input.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0) throw new InvalidNameError(input, 'empty name');
  if (name.length > 253) throw new InvalidNameError(input, `longer than 253 characters (${name.length})`);
  for (const label of name.split('.')) {
    if (label.length === 0) throw new InvalidNameError(input, 'empty label');
    if (label.length > 63) throw new InvalidNameError(input, `label longer than 63 characters (${label.length})`);
    if (!LABEL.test(label)) throw new InvalidNameError(input, `label ${JSON.stringify(label.slice(0, 63))} has a character outside [a-z0-9_-] or starts/ends with '-'`);
  }
  return name;
}

/** Percent-escapes everything outside [a-z0-9._-], `%` and `:` included, so a part can never add a key segment. */
export function escapeKeyPart(part: string): string {
  return part.replace(/[^a-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The shared (L2) key of one question: `global:dns:{type}:{escaped name}`. */
export function sharedKey(type: CachedType, name: string): string {
  return `global:dns:${escapeKeyPart(type.toLowerCase())}:${escapeKeyPart(name)}`;
}

/**
 * The question a shared key names (the inverse of sharedKey), or undefined for a key of another scheme or a
 * name the cache would refuse: how a process reads an invalidation that names the shared key.
 */
export function parseSharedKey(key: string): { type: CachedType; name: string } | undefined {
  const m = /^global:dns:([a-z]+):([^:]+)$/.exec(key);
  if (!m) return undefined;
  try {
    const type = checkType(decodeURIComponent(m[1]));
    const name = normalizeName(decodeURIComponent(m[2]));
    return sharedKey(type, name) === key ? { type, name } : undefined;
  } catch {
    return undefined;
  }
}
