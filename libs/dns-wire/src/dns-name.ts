// Names as the platform keys them: lower case, no trailing dot, checked before anything goes on the wire.
import { isIPv4, isIPv6 } from 'node:net';

/** Lower case, without the trailing dot; the root is the empty string. */
export function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Why `name` (already normalised) cannot be asked, or undefined when it can: at most 253 characters,
 * labels of 1-63 printable ASCII characters (underscores allowed, `_dmarc`), no dot inside a label.
 * IDNs must come in their A-label (punycode) form.
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'empty name';
  if (name.length > 253) return `name is ${name.length} characters long (at most 253)`;
  for (const label of name.split('.')) {
    if (label.length === 0) return 'empty label';
    if (label.length > 63) return `label of ${label.length} characters (at most 63)`;
    // Printable ASCII only: no spaces, controls or bytes a label-by-label encoder could misread.
    if (!/^[\x21-\x7e]+$/.test(label)) return 'label with a character outside printable ASCII';
  }
  return undefined;
}

/** The reverse-lookup name of an IP address: `4.3.2.1.in-addr.arpa`, or the nibble form under `ip6.arpa`. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  if (!isIPv6(ip)) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
  return `${expandIPv6(ip).split('').reverse().join('.')}.ip6.arpa`;
}

/** The 32 hex digits of an IPv6 address (embedded IPv4 tails included). */
function expandIPv6(ip: string): string {
  let text = ip.toLowerCase().split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0')).join('');
}
