// Which primaries the autopilot may send updates to. A tenant names the address, and the worker connects to
// it from inside the platform's network: without a check, a tenant could point it at Redis or PostgreSQL on
// loopback or a private subnet (server-side request forgery). Internal addresses need the operator's consent.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Never a server, whoever allows what: no host, everyone, or a group. */
const NEVER = new BlockList();
NEVER.addSubnet('0.0.0.0', 8, 'ipv4');
NEVER.addSubnet('224.0.0.0', 3, 'ipv4'); // multicast, reserved, broadcast
NEVER.addAddress('::', 'ipv6');
NEVER.addSubnet('ff00::', 8, 'ipv6');

/** Inside the platform's own networks: loopback, private, shared, link-local (and IPv4-mapped forms). */
const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['127.0.0.0', 8],
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv4');
  INTERNAL.addSubnet(`::ffff:${net}`, 96 + prefix, 'ipv6');
}
INTERNAL.addAddress('::1', 'ipv6');
INTERNAL.addSubnet('fc00::', 7, 'ipv6');
INTERNAL.addSubnet('fe80::', 10, 'ipv6');

const family = (host: string): 'ipv4' | 'ipv6' | undefined => (isIPv4(host) ? 'ipv4' : isIPv6(host) ? 'ipv6' : undefined);

/** Why `host` cannot be a primary's address, or undefined: an IP literal, not unspecified, multicast or broadcast. */
export function serverHostProblem(host: string): string | undefined {
  const f = family(host);
  if (f === undefined) return 'must be an IPv4 or IPv6 address (a host name would make the DNS write depend on DNS)';
  if (NEVER.check(host, f)) return 'must be a unicast address (not unspecified, multicast or broadcast)';
  return undefined;
}

/** True for loopback, private, shared and link-local addresses. */
export function isInternalAddress(host: string): boolean {
  const f = family(host);
  return f !== undefined && INTERNAL.check(host, f);
}
