import { isIPv6 } from 'node:net';
import { makeSetting, ok, quote, reject, type Parsed, type NoOptions, type Resolved, type Setting, type SettingOptions } from './setting';

export interface UrlOptions extends SettingOptions<string> {
  /** Accepted protocols with their colon, as `URL.protocol` spells them: `['postgres:', 'postgresql:']`. */
  readonly protocols?: readonly string[];
}

/**
 * A URL, resolved to the string as given (not re-serialised: `new URL().toString()` may re-encode a
 * password, and drivers want the operator's exact text).
 */
export function url<const O extends UrlOptions = NoOptions>(options?: O): Setting<Resolved<string, O>> {
  const protocols = options?.protocols;
  const expected = protocols?.length ? `a ${protocols.join(' or ')} URL` : 'a URL';
  const parse = (raw: string): Parsed<string> => {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      return reject(`must be ${expected}`);
    }
    if (protocols?.length && !protocols.includes(u.protocol)) {
      return reject(`must be ${expected}`);
    }
    return ok(raw);
  };
  return makeSetting<string>({ kind: 'url', expected, parse, maskSecret: maskUrl }, options) as Setting<
    Resolved<string, O>
  >;
}

// Query parameters whose values are safe to show and help diagnose a connection; every other value of a
// secret URL is masked, since drivers accept passwords and tokens as parameters under many names.
const SAFE_PARAMS = new Set(['sslmode', 'ssl', 'connect_timeout', 'application_name', 'family', 'db']);

/**
 * A secret URL as it may be shown: scheme, user, host, port and path, with the password and query values
 * masked, so an operator can still see where it points. Text without a host is withheld whole, because
 * the URL parser may then have read the password as a path (`dmarc:s3cr3t@db` is scheme `dmarc:`).
 */
export function maskUrl(raw: string): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  if (u.host === '') return undefined;
  // An '@' that did not end up separating user info means the password broke the URL's structure
  // (an unencoded '?', '#' or '/'), and part of it now sits in the host, path or query.
  if (raw.includes('@') && !u.username && !u.password) return undefined;
  const user = u.username ? `${u.username}${u.password ? ':***' : ''}@` : u.password ? ':***@' : '';
  const params = [...u.searchParams].map(([k, v]) => `${k}=${SAFE_PARAMS.has(k.toLowerCase()) ? v : '***'}`);
  return `${u.protocol}//${user}${u.host}${u.pathname}${params.length ? `?${params.join('&')}` : ''}${u.hash ? '#***' : ''}`;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; `undefined` when malformed. */
export function parseHostPort(text: string, defaultPort?: number): HostPort | undefined {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2];
    if (!isIPv6(host)) return undefined;
  } else if (isIPv6(text)) {
    host = text;
  } else {
    const i = text.lastIndexOf(':');
    host = i < 0 ? text : text.slice(0, i);
    portText = i < 0 ? undefined : text.slice(i + 1);
    if (!HOSTNAME.test(host)) return undefined;
  }
  const port = portText === undefined ? defaultPort : /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** `host:port`, bracketing IPv6 hosts as clients (kafkajs, dns.setServers) expect. */
export function formatHostPort({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface HostPortListOptions extends SettingOptions<string | readonly HostPort[]> {
  /** Port for entries written without one; without it every entry must name its port. */
  readonly defaultPort?: number;
}

/** A comma-separated list of `host[:port]`, resolved to `{ host, port }` pairs. */
export function hostPortList<const O extends HostPortListOptions = NoOptions>(
  options?: O,
): Setting<Resolved<readonly HostPort[], O>> {
  const defaultPort = options?.defaultPort;
  const expected =
    defaultPort === undefined
      ? 'a comma-separated list of host:port'
      : `a comma-separated list of host[:port] (port defaults to ${defaultPort})`;
  const parse = (raw: string): Parsed<readonly HostPort[]> => {
    const parts = raw.split(',').map((p) => p.trim());
    const out: HostPort[] = [];
    for (const part of parts) {
      const hp = parseHostPort(part, defaultPort);
      if (!hp) {
        if (part === '') return reject(`must be ${expected} without empty entries`);
        return reject(options?.secret ? `must be ${expected}` : `must be ${expected} (bad entry ${quote(part)})`);
      }
      out.push(hp);
    }
    return ok(out);
  };
  const check = (list: readonly HostPort[]): Parsed<readonly HostPort[]> =>
    list.length === 0 ? reject(`must be ${expected}`) : parse(list.map(formatHostPort).join(','));
  return makeSetting<readonly HostPort[]>({ kind: 'hostPortList', expected, parse, check }, options) as Setting<
    Resolved<readonly HostPort[], O>
  >;
}

export type BrokersOptions = SettingOptions<string | readonly string[]>;

/** Kafka bootstrap brokers, `host[:port]` comma-separated (port defaults to 9092), resolved to `host:port` strings. */
export function brokers<const O extends BrokersOptions = NoOptions>(options?: O): Setting<Resolved<readonly string[], O>> {
  const list = hostPortList({ defaultPort: 9092 });
  const parse = (raw: string): Parsed<readonly string[]> => {
    const r = list.parse(raw);
    return r.ok ? ok(r.value.map(formatHostPort)) : r;
  };
  const check = (value: readonly string[]): Parsed<readonly string[]> =>
    value.length === 0 ? reject(`must be ${list.expected}`) : parse(value.join(','));
  return makeSetting<readonly string[]>({ kind: 'brokers', expected: list.expected, parse, check }, options) as Setting<
    Resolved<readonly string[], O>
  >;
}
