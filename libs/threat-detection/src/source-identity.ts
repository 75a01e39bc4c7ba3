// How the new-source rule tells sending sources apart. An address alone changes too often (a provider sends from
// thousands), so a source is the provider its PTR name belongs to, else its PTR name's registrable domain, else
// (no PTR name: parsed reports, or none published) the network around its address.
import { isIPv4, isIPv6 } from 'node:net';
import { ApprovedSourceMatcher, type ApprovedSourceRef } from '@dmarc/policy-guidance';

// Providers that send from several registrable domains, named once so that mail from any of them is one source.
const PROVIDERS: Readonly<Record<string, string>> = {
  'google.com': 'google',
  'googlemail.com': 'google',
  'outlook.com': 'microsoft',
  'hotmail.com': 'microsoft',
  'amazonses.com': 'amazon-ses',
  'sendgrid.net': 'sendgrid',
  'mailgun.net': 'mailgun',
  'mailgun.org': 'mailgun',
  'mcsv.net': 'mailchimp',
  'mcdlv.net': 'mailchimp',
  'rsgsv.net': 'mailchimp',
  'mandrillapp.com': 'mailchimp',
  'sparkpostmail.com': 'sparkpost',
  'mtasv.net': 'postmark',
  'zoho.com': 'zoho',
  'zohomail.com': 'zoho',
  'yahoo.com': 'yahoo',
  'yahoodns.net': 'yahoo',
  'exacttarget.com': 'salesforce',
  'pphosted.com': 'proofpoint',
  'mimecast.com': 'mimecast',
};

/** The provider a registrable domain belongs to (`google` for googlemail.com), or undefined. */
export function providerOf(baseDomain: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(PROVIDERS, baseDomain) ? PROVIDERS[baseDomain] : undefined;
}

export interface SourceKeyOptions {
  ipv4Prefix: number;
  ipv6Prefix: number;
}

/**
 * The key a source is remembered by: `provider:<name>`, `domain:<base domain>` or `net:<network>/<prefix>`. The
 * base domain is the registrable one (tldts, public suffix list), so a look-alike PTR such as
 * mail.google.com.evil.example is `domain:evil.example`, never Google.
 */
export function sourceKey(source: { ip: string; baseDomain: string | null }, options: SourceKeyOptions): string {
  if (source.baseDomain) {
    const base = source.baseDomain.toLowerCase();
    const provider = providerOf(base);
    return provider ? `provider:${provider}` : `domain:${base}`;
  }
  return `net:${networkOf(source.ip, options)}`;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

// IPv6 sources repeat across chunks, and masking one takes some work: the networks last computed, bounded.
const NETWORKS_KEPT = 20_000;
const networks = new Map<string, string>();

/** The network of an address at the given prefix, e.g. 203.0.113.0/24, 2001:db8:1::/48; the text itself when it is no address. */
export function networkOf(ip: string, options: SourceKeyOptions): string {
  // Most sources are IPv4 as aggregation stores them: masked at once, without a lookup (one costs as much).
  const v4 = ipv4Value(ip);
  if (v4 >= 0) return ipv4Network(v4, options.ipv4Prefix);
  const memo = `${options.ipv4Prefix}/${options.ipv6Prefix}/${ip}`;
  let network = networks.get(memo);
  if (network === undefined) {
    network = computeNetwork(ip, options);
    if (networks.size >= NETWORKS_KEPT) networks.clear();
    networks.set(memo, network);
  }
  return network;
}

// A dotted quad exactly (four decimal octets of 0-255 without leading zeros, nothing else) as a number, else -1.
function ipv4Value(text: string): number {
  let value = 0;
  let octet = -1;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (octet < 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = -1;
    } else if (c >= 48 && c <= 57) {
      // No leading zero (010 reads as octal to some): as node:net's isIPv4.
      if (octet === 0) return -1;
      octet = octet < 0 ? c - 48 : octet * 10 + (c - 48);
      if (octet > 255) return -1;
    } else return -1;
  }
  return dots === 3 && octet >= 0 ? value * 256 + octet : -1;
}

function ipv4Network(value: number, prefix: number): string {
  const size = 2 ** (32 - prefix);
  const network = Math.floor(value / size) * size;
  return `${Math.floor(network / 16777216) % 256}.${Math.floor(network / 65536) % 256}.${Math.floor(network / 256) % 256}.${network % 256}/${prefix}`;
}

function computeNetwork(ip: string, options: SourceKeyOptions): string {
  const text = ip.trim().toLowerCase();
  const v4 = MAPPED_V4.exec(text)?.[1] ?? text;
  if (isIPv4(v4)) return ipv4Network(ipv4Value(v4), options.ipv4Prefix);
  if (!isIPv6(text)) return text;
  const groups = expandIPv6(text);
  let bits = options.ipv6Prefix;
  const masked = groups.map((g) => {
    const keep = Math.max(0, Math.min(16, bits));
    bits -= 16;
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${compressIPv6(masked)}/${options.ipv6Prefix}`;
}

function expandIPv6(text: string): number[] {
  // An embedded IPv4 tail (::ffff:1.2.3.4 is handled above; 64:ff9b::1.2.3.4 here) is two groups.
  const withoutV4 = text.replace(/(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, (_, a, b, c, d) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`,
  );
  const [head, tail] = withoutV4.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16));
}

// RFC 5952: the longest run of two or more zero groups becomes ::, lower-case, no leading zeros.
function compressIPv6(groups: number[]): string {
  let best = { at: -1, length: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { at: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.length).join(':')}`;
}

/**
 * Whether a source is approved for a domain: an `ip` approval covers that address, a `cidr` one its block, a
 * `host` one every source whose PTR base domain is the host's (approving _spf.google.com covers mail-*.google.com;
 * never a look-alike such as google.com.evil.example, whose base domain is evil.example).
 */
export function sourceApproval(approved: readonly ApprovedSourceRef[]): (source: { ip: string; baseDomain: string | null }) => boolean {
  if (approved.length === 0) return () => false;
  const matcher = new ApprovedSourceMatcher(approved);
  return (s) => matcher.match({ sourceIp: s.ip, baseDomain: s.baseDomain }) !== undefined;
}
