// Where the DNS client sends its questions: a parsed `DNS_UPSTREAM` list, or the system's resolvers.
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { UpstreamConfigError } from './errors';

export interface UpstreamServer {
  /** An IP address literal, never a host name: resolving the resolver would need a resolver. */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** `host:port`, IPv6 in brackets: how the server is named in answers, errors and logs. */
  readonly label: string;
}

export const DNS_PORT = 53;

export function upstreamServer(host: string, port = DNS_PORT): UpstreamServer {
  const family = isIPv4(host) ? 4 : isIPv6(host) ? 6 : undefined;
  if (family === undefined) throw new UpstreamConfigError(host, 'not an IPv4 or IPv6 address');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UpstreamConfigError(`${host}:${port}`, 'port must be 1-65535');
  // The canonical text form, so it compares equal to the source address of the server's answers.
  if (family === 6) host = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

/**
 * `"192.0.2.1:53,[2001:db8::1]:5353,192.0.2.2"`: IPv4 with an optional port, IPv6 in brackets with an
 * optional port (or bare, port 53). Throws UpstreamConfigError naming the first bad entry.
 */
export function parseUpstreams(spec: string): UpstreamServer[] {
  const entries = spec.split(',').map((e) => e.trim());
  if (entries.length === 1 && entries[0] === '') throw new UpstreamConfigError(spec, 'no server given');
  return entries.map((entry, i) => parseEntry(entry, i + 1));
}

function parseEntry(entry: string, position: number): UpstreamServer {
  const fail = (reason: string): never => {
    throw new UpstreamConfigError(entry, `entry #${position}: ${reason}`);
  };
  if (entry === '') return fail('empty entry');
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
    if (!isIPv6(host)) return fail('not an IPv6 address inside [ ]');
  } else if (entry.includes('[') || entry.includes(']')) {
    return fail('unbalanced [ ]');
  } else if (entry.split(':').length > 2) {
    // More than one colon and no brackets: a bare IPv6 address, which leaves no room for a port.
    host = entry;
    if (!isIPv6(host)) return fail('not an IPv4 or IPv6 address (write IPv6 with a port as [address]:port)');
  } else {
    [host, portText] = entry.split(':') as [string, string | undefined];
    if (!isIPv4(host)) return fail('not an IPv4 address (host names are not accepted, IPv6 goes in [ ])');
  }
  let port = DNS_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return fail(`port "${portText}" is not a number`);
    port = Number(portText);
    if (port < 1 || port > 65535) return fail(`port ${port} is not in 1-65535`);
  }
  return upstreamServer(host, port);
}

/**
 * The `nameserver` lines of resolv.conf, port 53, in order; 127.0.0.1 when there are none (what the C
 * library does too). Zone ids (`fe80::1%eth0`) are kept, addresses that are not IP literals skipped.
 */
export function systemUpstreams(resolvConf = '/etc/resolv.conf'): UpstreamServer[] {
  let text = '';
  try {
    text = readFileSync(resolvConf, 'utf8');
  } catch {
    // No resolv.conf: the libc default below.
  }
  const servers: UpstreamServer[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1]!;
    const bare = host.split('%')[0]!;
    if (isIPv4(host)) servers.push(upstreamServer(host));
    else if (isIPv6(bare)) servers.push({ host, port: DNS_PORT, family: 6, label: `[${host}]:${DNS_PORT}` });
  }
  return servers.length > 0 ? servers : [upstreamServer('127.0.0.1')];
}
