// An in-memory Upstream with controllable answers, TTLs, delay and failure, counting the questions it gets.
import type { DnsRecord, RecordType, Upstream, UpstreamAnswer } from '@dmarc/dns-wire';

export interface FakeZoneAnswer {
  rcode?: UpstreamAnswer['rcode'];
  answers?: DnsRecord[];
  negativeTtl?: number;
}

export type FakeFailure = 'timeout' | 'servfail' | 'refused';

export class FakeUpstream implements Upstream {
  /** Every question received, with the clock's time it arrived at. */
  readonly queries: Array<{ name: string; type: RecordType; at: number }> = [];
  private readonly zone = new Map<string, FakeZoneAnswer>();
  /** Every query waits this long (through `sleep`, real timers by default). */
  delayMs = 0;
  failure?: FakeFailure;
  private gate?: Promise<void>;
  private openGate?: () => void;

  constructor(
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    private readonly now: () => number = Date.now,
  ) {}

  get count(): number {
    return this.queries.length;
  }

  countFor(name: string, type?: RecordType): number {
    return this.queries.filter((q) => q.name === name && (type === undefined || q.type === type)).length;
  }

  set(name: string, type: RecordType, answer: FakeZoneAnswer): this {
    this.zone.set(`${type}:${name}`, answer);
    return this;
  }

  txt(name: string, text: string, ttl: number): this {
    return this.set(name, 'TXT', { answers: [{ type: 'TXT', name, ttl, strings: [text] }] });
  }

  a(name: string, address: string, ttl: number): this {
    return this.set(name, 'A', { answers: [{ type: 'A', name, ttl, address }] });
  }

  /** Holds every query until release() is called. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }

  async query(name: string, type: RecordType, _signal?: AbortSignal): Promise<UpstreamAnswer> {
    this.queries.push({ name, type, at: this.now() });
    if (this.gate) await this.gate;
    if (this.delayMs > 0) await this.sleep(this.delayMs);
    // Shaped like @dmarc/dns-wire's UpstreamError: the cache reads its stable code.
    if (this.failure === 'timeout') throw Object.assign(new Error(`query ${type} ${name} timed out`), { code: 'DNS_TIMEOUT', retriable: true });
    if (this.failure) return { rcode: this.failure === 'servfail' ? 'SERVFAIL' : 'REFUSED', answers: [], server: 'fake:53', latencyMs: this.delayMs };
    const found = this.zone.get(`${type}:${name}`);
    if (!found) return { rcode: 'NXDOMAIN', answers: [], negativeTtl: 300, server: 'fake:53', latencyMs: this.delayMs };
    return {
      rcode: found.rcode ?? 'NOERROR',
      answers: found.answers ?? [],
      negativeTtl: found.negativeTtl,
      server: 'fake:53',
      latencyMs: this.delayMs,
    };
  }
}
