// The in-memory driver of DnsProvider: a map of names to TXT records, for tests and runs without a DNS server.
import type { DnsProvider } from './dns-provider';

export class MemoryDnsProvider implements DnsProvider {
  readonly description = 'memory';
  private readonly records = new Map<string, string[]>();
  /** Every replaceTxt, in order. */
  readonly writes: Array<{ name: string; text: string; ttl: number }> = [];

  /** Sets what `name` holds, as if published by someone else. */
  set(name: string, texts: string[]): void {
    this.records.set(name.toLowerCase(), [...texts]);
  }

  async replaceTxt(name: string, text: string, ttl: number): Promise<void> {
    this.writes.push({ name, text, ttl });
    this.records.set(name.toLowerCase(), [text]);
  }

  async readTxt(name: string): Promise<string[]> {
    return [...(this.records.get(name.toLowerCase()) ?? [])];
  }
}
