import { InvalidInputError } from './errors';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// A service label (_dmarc, _spf, _domainkey) where the caller allows it.
const SERVICE_LABEL = /^_?[a-z0-9](?:[a-z0-9-_]{0,60}[a-z0-9])?$/;
const MAX_NAME = 253;

/**
 * A domain name as a tenant may register it: lower-case, without a trailing dot, at most 253 characters,
 * two labels or more of letters, digits and inner hyphens (IDNs in their xn-- form), 1-63 characters each,
 * and a top-level label that is not all digits (so no IP address). Anything else, `a.com:*` or
 * `x}:tenant:2` among them, is refused naming `field`: these names end up in cache keys and SQL, and
 * nothing but a plain host name may get there.
 */
export function parseDomainName(input: string, field: string, options: { underscores?: boolean } = {}): string {
  const label = options.underscores ? SERVICE_LABEL : LABEL;
  const name = input.endsWith('.') ? input.slice(0, -1).toLowerCase() : input.toLowerCase();
  const refuse = (why: string) => new InvalidInputError(field, `${field} is not a valid domain name: ${why}`);
  if (name === '') throw refuse('empty');
  if (name.length > MAX_NAME) throw refuse(`longer than ${MAX_NAME} characters`);
  const labels = name.split('.');
  if (labels.length < 2) throw refuse('needs at least two labels, like example.com');
  for (const part of labels) {
    if (part === '') throw refuse('empty label');
    if (part.length > 63) throw refuse('a label is longer than 63 characters');
    if (!label.test(part)) throw refuse('labels hold only letters, digits and inner hyphens');
  }
  if (/^\d+$/.test(labels[labels.length - 1])) throw refuse('the top-level label is all digits');
  return name;
}
