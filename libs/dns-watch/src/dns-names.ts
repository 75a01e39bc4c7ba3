// Letters, digits, hyphens and underscores: host names, and the underscore labels of _dmarc, _domainkey
// and selectors some senders use. Lower case: names are stored and compared lower-cased.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A lower-case DNS name without the root dot, at most 253 characters, each label 1 to 63. */
export function isDnsName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

/** A DKIM selector as stored: lower case without surrounding dots or spaces; null when it is no DNS name. */
export function normaliseSelector(selector: string): string | null {
  const s = selector.trim().toLowerCase().replace(/^\.+|\.+$/g, '');
  return isDnsName(s) ? s : null;
}

