// Which approved source, if any, covers a sending source seen in the reports. The counters know a source by its
// IP and, when the DNS service ran, by its PTR name's base domain (aggregate_counters.source_base_domain); an
// approval is an IP, a CIDR block or a host name (@dmarc/tenant-admin parseSource).
import { BlockList, isIP, isIPv6, SocketAddress } from 'node:net';
import { baseDomain } from '@dmarc/dns-records';

export type ApprovedKind = 'ip' | 'cidr' | 'host';

/** An approved source as stored (approved_sources kind and canonical text). */
export interface ApprovedSourceRef {
  kind: ApprovedKind;
  source: string;
}

/** What the counters know of a sending source. */
export interface SourceIdentity {
  sourceIp: string;
  /** Base domain (public suffix + 1) of its PTR name; null without the DNS service or without a name. */
  baseDomain: string | null;
}

/**
 * An IP address in the spelling the counters use (aggregation writes IPv6 compressed and lower-case by the same
 * rule), or null when the text is not an IP address. Zone ids (`fe80::1%eth0`) are not addresses a report carries.
 */
export function sourceIpOf(text: string): string | null {
  const ip = text.trim().toLowerCase();
  if (ip.includes('%')) return null;
  const version = isIP(ip);
  if (version === 4) return ip;
  return version === 6 ? new SocketAddress({ address: ip, family: 'ipv6' }).address : null;
}

// An IPv4 address carried as IPv6 (::ffff:192.0.2.1) is the IPv4 sender for an approval of 192.0.2.1.
const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/;

/**
 * Matches sources against a domain's approved list. An `ip` approval matches that address (any spelling, an
 * IPv4-mapped IPv6 form included); a `cidr` approval every address in the block; a `host` approval every source
 * whose PTR base domain is the host's base domain: approving `_spf.google.com` or `google.com` covers senders
 * named `mail-*.google.com`. A source without a PTR name is matched by IP and CIDR approvals only.
 */
export class ApprovedSourceMatcher<T extends ApprovedSourceRef = ApprovedSourceRef> {
  private readonly byIp = new Map<string, T>();
  private readonly blocks: Array<{ ref: T; list: BlockList }> = [];
  private readonly byBaseDomain = new Map<string, T>();

  constructor(approved: readonly T[]) {
    for (const ref of approved) {
      if (ref.kind === 'ip') {
        const ip = sourceIpOf(ref.source);
        if (ip !== null) this.byIp.set(unmapped(ip), ref);
      } else if (ref.kind === 'cidr') {
        const [address, prefix] = ref.source.split('/');
        const version = isIP(address);
        if (version === 0) continue;
        const list = new BlockList();
        list.addSubnet(address, Number(prefix), version === 4 ? 'ipv4' : 'ipv6');
        this.blocks.push({ ref, list });
      } else {
        const base = baseDomain(ref.source);
        if (base !== null && !this.byBaseDomain.has(base)) this.byBaseDomain.set(base, ref);
      }
    }
  }

  /** The first approval covering the source, by IP, then CIDR, then host; undefined when none does. */
  match(source: SourceIdentity): T | undefined {
    const ip = sourceIpOf(source.sourceIp);
    if (ip !== null) {
      const exact = this.byIp.get(unmapped(ip));
      if (exact) return exact;
      const family = isIPv6(ip) ? 'ipv6' : 'ipv4';
      for (const { ref, list } of this.blocks) if (list.check(ip, family)) return ref;
    }
    return source.baseDomain === null ? undefined : this.byBaseDomain.get(source.baseDomain.toLowerCase());
  }
}

function unmapped(ip: string): string {
  return MAPPED_V4.exec(ip)?.[1] ?? ip;
}
