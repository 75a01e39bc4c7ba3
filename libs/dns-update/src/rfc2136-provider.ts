// The RFC 2136 adapter: a TSIG-signed UPDATE over TCP to the zone's primary, and reads straight from that
// server (the DNS client of @dmarc/dns-wire, no cache) for the record before and after. TCP only: an update
// is one small message, and a connection cannot be answered by a forger who does not see our traffic.
import { randomInt } from 'node:crypto';
import { DnsClient, normaliseName, tcpMessageExchange, UpstreamError, type UpstreamServer } from '@dmarc/dns-wire';
import type { DnsProvider } from './dns-provider';
import { DnsUpdateError, type DnsUpdateErrorCode } from './errors';
import { answerSignatureProblem, signMessage, splitTsig, tsigErrorName, type TsigKey } from './tsig';
import { encodeTxtReplacement, rcodeName, readUpdateResponse } from './update-message';

export interface Rfc2136Options {
  readonly server: UpstreamServer;
  readonly zone: string;
  readonly key: TsigKey;
  /** Per exchange (the update, each read). Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Milliseconds since the epoch: TSIG's time signed. Default Date.now. */
  readonly now?: () => number;
}

/** What to tell the operator for a refusal, by RCODE or TSIG error name. */
const HINTS: Record<string, string> = {
  REFUSED: "the server does not let this key update the zone (its allow-update or update-policy)",
  NOTAUTH: 'the server is not authoritative (primary) for the zone, or did not accept the key',
  BADSIG: "the key's secret or algorithm differs from the server's",
  BADKEY: 'the server does not know a key of that name and algorithm',
  BADTIME: "this host's clock and the server's differ by more than the TSIG fudge; fix the clocks",
  NOTZONE: 'the name is not inside the zone',
  NOTIMP: 'the server does not implement dynamic update',
  FORMERR: 'the server could not read the update',
};

const UPSTREAM_CODES: Record<string, DnsUpdateErrorCode> = {
  DNS_TIMEOUT: 'DNS_UPDATE_TIMEOUT',
  DNS_NETWORK: 'DNS_UPDATE_NETWORK',
  DNS_BAD_RESPONSE: 'DNS_UPDATE_BAD_RESPONSE',
  DNS_BAD_QUERY: 'DNS_UPDATE_INVALID_SETTINGS',
};

export class Rfc2136Provider implements DnsProvider {
  readonly description: string;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly reader: DnsClient;

  constructor(private readonly options: Rfc2136Options) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
    this.description = `rfc2136 ${options.server.label} zone ${normaliseName(options.zone)}`;
    this.reader = new DnsClient({ servers: [options.server], timeoutMs: this.timeoutMs, retries: 1 });
  }

  async replaceTxt(name: string, text: string, ttl: number): Promise<void> {
    const { server, key } = this.options;
    const zone = normaliseName(this.options.zone);
    const owner = normaliseName(name);
    const id = randomInt(0x10000);
    const { signed, mac } = signMessage(encodeTxtReplacement({ id, zone, name: owner, ttl, text }), key, Math.floor(this.now() / 1000));
    const what = `UPDATE of ${owner} TXT in zone ${zone}`;
    let bytes: Buffer;
    let rcode: number;
    try {
      ({ bytes, rcode } = await tcpMessageExchange(server, signed, what, { timeoutMs: this.timeoutMs }, (b) => {
        const reading = readUpdateResponse(b, id);
        return reading.kind === 'answer' ? { bytes: b, rcode: reading.rcode } : undefined;
      }));
    } catch (err) {
      throw this.fromUpstream(err);
    }
    const fail = (code: DnsUpdateErrorCode, detail: string, rcode?: string) => new DnsUpdateError(code, `${server.label}: ${what}: ${detail}`, { rcode, server: server.label });
    let split: ReturnType<typeof splitTsig>;
    try {
      split = splitTsig(bytes);
    } catch (err) {
      throw fail('DNS_UPDATE_BAD_RESPONSE', `unreadable answer (${(err as Error).message})`);
    }
    const answered = rcodeName(rcode);
    const { tsig, unsigned } = split;
    if (tsig && tsig.error !== 0) {
      const error = tsigErrorName(tsig.error);
      throw fail('DNS_UPDATE_NOT_AUTHORIZED', `answered ${answered} (${error}): ${HINTS[error] ?? 'TSIG failed'}`, error);
    }
    if (tsig) {
      const problem = answerSignatureProblem(key, unsigned, tsig, mac, Math.floor(this.now() / 1000));
      if (problem) throw fail('DNS_UPDATE_BAD_RESPONSE', `answer ${answered} not trusted: ${problem}`, answered);
    } else if (rcode === 0) {
      // Only a success must be signed to be believed; a refusal is a failure whoever sent it.
      throw fail('DNS_UPDATE_BAD_RESPONSE', 'answered NOERROR without a TSIG signature: not trusted', answered);
    }
    if (rcode === 0) return;
    const code: DnsUpdateErrorCode = rcode === 2 ? 'DNS_UPDATE_SERVER_FAILURE' : rcode === 5 ? 'DNS_UPDATE_REFUSED' : rcode === 9 ? 'DNS_UPDATE_NOT_AUTHORIZED' : 'DNS_UPDATE_REJECTED';
    throw fail(code, `answered ${answered}${HINTS[answered] ? `: ${HINTS[answered]}` : ''}`, answered);
  }

  async readTxt(name: string): Promise<string[]> {
    const { server } = this.options;
    const owner = normaliseName(name);
    let answer;
    try {
      answer = await this.reader.query(owner, 'TXT');
    } catch (err) {
      throw this.fromUpstream(err);
    }
    const fail = (code: DnsUpdateErrorCode, detail: string) => new DnsUpdateError(code, `${server.label}: reading ${owner} TXT: ${detail}`, { rcode: answer.rcode, server: server.label });
    if (answer.rcode === 'NXDOMAIN') return [];
    if (answer.rcode === 'SERVFAIL') throw fail('DNS_UPDATE_SERVER_FAILURE', 'answered SERVFAIL');
    if (answer.rcode !== 'NOERROR') throw fail(answer.rcode === 'REFUSED' ? 'DNS_UPDATE_REFUSED' : 'DNS_UPDATE_REJECTED', `answered ${answer.rcode}`);
    // A CNAME here delegates the record elsewhere (a DMARC vendor): an added TXT would be ignored (RFC 2136 §3.4.2.2).
    if (answer.answers.some((r) => r.type === 'CNAME' && r.name === owner)) throw fail('DNS_UPDATE_REJECTED', 'the name is a CNAME (DMARC delegated elsewhere); it is not replaced');
    return answer.answers.flatMap((r) => (r.type === 'TXT' && r.name === owner ? [r.strings.join('')] : []));
  }

  private fromUpstream(err: unknown): unknown {
    if (!(err instanceof UpstreamError)) return err;
    const code = UPSTREAM_CODES[err.code];
    return code ? new DnsUpdateError(code, err.message, { cause: err, server: err.server }) : err;
  }
}
