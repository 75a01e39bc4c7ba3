// A DnsLookup over a table, for tests: answers what the zone holds, [] for what it does not, rejects
// for names listed as failing, and counts every question.
import type { DnsLookup } from '../dns-lookup';

export interface FakeZone {
  txt?: Record<string, string[]>;
  addresses?: Record<string, string[]>;
  mx?: Record<string, string[]>;
  /** "txt name", "mx name" or "addresses name" that reject like a SERVFAIL */
  failing?: string[];
}

export class FakeDns implements DnsLookup {
  readonly asked: string[] = [];

  constructor(private readonly zone: FakeZone) {}

  txt(name: string): Promise<string[]> {
    return this.answer('txt', name);
  }

  addresses(name: string): Promise<string[]> {
    return this.answer('addresses', name);
  }

  mx(name: string): Promise<string[]> {
    return this.answer('mx', name);
  }

  private async answer(type: 'txt' | 'addresses' | 'mx', name: string): Promise<string[]> {
    this.asked.push(`${type} ${name}`);
    if (this.zone.failing?.includes(`${type} ${name}`)) {
      const error = new Error(`SERVFAIL from 127.0.0.1:53 for ${name}\n    at fake (fake-dns.ts:1:1)`);
      Object.assign(error, { code: 'DNS_SERVFAIL' });
      throw error;
    }
    return [...(this.zone[type]?.[name] ?? [])];
  }
}
