// The registrable ("organizational") domain: one label below its public suffix, from the Public Suffix
// List including its private section, so foo.github.io is its own organization and not github.io's.
import { getDomain, parse } from 'tldts';

const PSL_OPTIONS = { allowPrivateDomains: true } as const;

/** The registrable domain (public suffix + 1), e.g. mail.google.com → google.com, foo.bar.co.uk → bar.co.uk; null for an IP or a bare suffix. */
export function baseDomain(name: string): string | null {
  const host = normaliseDomain(name);
  if (!host) return null;
  if (parse(host, PSL_OPTIONS).isIp) return null;
  return getDomain(host, PSL_OPTIONS) ?? null;
}

/** Lower case, no surrounding space, no trailing dot: the form DnsLookup expects. */
export function normaliseDomain(name: string): string {
  let host = name.trim().toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * Why a (normalised) name cannot be a DNS host name, or undefined when it can: at least two labels,
 * letters, digits, hyphens and underscores (for _spf., _dmarc. and the like), at most 253 characters.
 */
export function domainNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 253) return `it is ${name.length} characters long (at most 253)`;
  const labels = name.split('.');
  if (labels.length < 2) return 'it has a single label';
  for (const label of labels) {
    if (label.length === 0) return 'it has an empty label';
    if (label.length > 63) return `its label "${label.slice(0, 20)}..." is over 63 characters`;
    if (!LABEL.test(label)) return `its label "${label}" has characters not allowed in a host name`;
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return 'its last label is numeric';
  return undefined;
}
