import { UpstreamFailure } from './__test-support__/upstream-failure';
import { chunk, FakeAnswers, FakeAnswersWithPeek, FakeAnswersWithTiers, lastTwoLabels, reverse4 } from './__test-support__/fake-answers';
import { Enricher, enrichChunk, enrichChunks } from './enrich-chunk';

const DMARC = 'v=DMARC1; p=reject; rua=mailto:dmarc@example.test';
const SPF = 'v=spf1 ip4:192.0.2.0/24 -all';

function enricher(answers: FakeAnswers, confirmPtr = false, concurrency?: number): Enricher {
  return new Enricher({ answers, reverseName: reverse4, baseDomain: lastTwoLabels, confirmPtr, concurrency, now: () => 42 });
}

describe('enrichChunk', () => {
  it('gives each distinct source IP its PTR name and base domain, once, in order, and the domain DMARC and SPF records', async () => {
    const answers = new FakeAnswers()
      .ptr('192.0.2.1', 'Mail-1.Sender.Example.TEST.')
      .ptr('192.0.2.2', 'out.other.test')
      .txt('_dmarc.example.test', DMARC)
      .txt('example.test', 'google-site-verification=abc', ['v=spf1 ip4:192.0.2.0/24', ' -all']);
    const enriched = await enrichChunk(chunk('example.test', ['192.0.2.1', '192.0.2.2', '192.0.2.1', '198.51.100.7']), enricher(answers));
    expect(enriched).toEqual({
      sources: [
        { ip: '192.0.2.1', ptr: 'mail-1.sender.example.test', baseDomain: 'example.test' },
        { ip: '192.0.2.2', ptr: 'out.other.test', baseDomain: 'other.test' },
        { ip: '198.51.100.7', ptr: null, baseDomain: null },
      ],
      dns: { dmarcRecord: DMARC, spfRecord: SPF, resolvedAt: 42 },
    });
  });

  it('asks each name once per pass, however many records and chunks repeat it', async () => {
    const answers = new FakeAnswers().ptr('192.0.2.1', 'a.sender.test').txt('_dmarc.example.test', DMARC);
    const chunks = [chunk('example.test', ['192.0.2.1', '192.0.2.1', '192.0.2.2'], 0), chunk('Example.Test', ['192.0.2.1', '192.0.2.2'], 1)];
    const out = await enrichChunks(chunks, enricher(answers));
    expect(out).toHaveLength(2);
    expect(out[1].dns.dmarcRecord).toBe(DMARC);
    expect(out.map((c) => c.sources.map((s) => [s.ip, s.ptr]))).toEqual([
      [
        ['192.0.2.1', 'a.sender.test'],
        ['192.0.2.2', null],
      ],
      [
        ['192.0.2.1', 'a.sender.test'],
        ['192.0.2.2', null],
      ],
    ]);
    expect(answers.count('PTR', '1.2.0.192.in-addr.arpa')).toBe(1);
    expect(answers.count('PTR', '2.2.0.192.in-addr.arpa')).toBe(1);
    expect(answers.count('TXT', '_dmarc.example.test')).toBe(1);
    expect(answers.count('TXT', 'example.test')).toBe(1);
    expect(answers.asked).toHaveLength(4);
  });

  it('leaves a field null when its lookup fails, and still enriches the rest', async () => {
    const answers = new FakeAnswers()
      .set('PTR', '1.2.0.192.in-addr.arpa', new UpstreamFailure())
      .ptr('192.0.2.2', 'ok.sender.test')
      .set('TXT', '_dmarc.example.test', new UpstreamFailure())
      .txt('example.test', SPF);
    const enriched = await enrichChunk(chunk('example.test', ['192.0.2.1', '192.0.2.2']), enricher(answers));
    expect(enriched.sources.map((r) => r.ptr)).toEqual([null, 'ok.sender.test']);
    expect(enriched.dns).toEqual({ dmarcRecord: null, spfRecord: SPF, resolvedAt: 42 });
  });

  it('never asks for what is not an IP', async () => {
    const answers = new FakeAnswers();
    const enriched = await enrichChunk(chunk('example.test', ['not-an-ip', '']), enricher(answers));
    expect(enriched.sources).toEqual([
      { ip: 'not-an-ip', ptr: null, baseDomain: null },
      { ip: '', ptr: null, baseDomain: null },
    ]);
    expect(answers.asked.filter((q) => q.startsWith('PTR'))).toEqual([]);
  });

  it('keeps no DMARC or SPF record when there are several (none applies) and does not take v=spf10 for SPF', async () => {
    const answers = new FakeAnswers().txt('_dmarc.example.test', DMARC, 'v=DMARC1; p=none').txt('example.test', 'v=spf10 -all');
    const enriched = await enrichChunk(chunk('example.test', []), enricher(answers));
    expect(enriched.dns).toEqual({ dmarcRecord: null, spfRecord: null, resolvedAt: 42 });
  });

  it('with forward confirmation keeps only a PTR name that points back to the IP', async () => {
    const answers = new FakeAnswers()
      .ptr('192.0.2.1', 'liar.spoof.test', 'mail.good.test')
      .address('A', 'liar.spoof.test', '203.0.113.9')
      .address('A', 'mail.good.test', '192.0.2.1')
      .ptr('192.0.2.2', 'nowhere.test')
      .set('AAAA', 'v6.good.test', { rcode: 'NOERROR', answers: [{ type: 'AAAA', address: '2001:db8:0::1' }] });
    // reverse4 keys an IPv6 address by its text: the canonical form is what gets asked.
    answers.set('PTR', '2001:db8::1.ip6.arpa', { rcode: 'NOERROR', answers: [{ type: 'PTR', target: 'v6.good.test' }] });
    const enriched = await enrichChunk(chunk('example.test', ['192.0.2.1', '192.0.2.2', '2001:DB8:0:0::1']), enricher(answers, true));
    expect(enriched.sources.map((r) => [r.ptr, r.baseDomain])).toEqual([
      ['mail.good.test', 'good.test'],
      [null, null],
      ['v6.good.test', 'good.test'],
    ]);
  });

  it('bounds the distinct questions in flight', async () => {
    const answers = new FakeAnswers();
    answers.delayMs = 2;
    const ips = Array.from({ length: 50 }, (_, i) => `10.0.${i}.1`);
    await enrichChunk(chunk('example.test', ips), enricher(answers, false, 4));
    expect(answers.asked).toHaveLength(52);
    expect(answers.maxInFlight).toBeLessThanOrEqual(4);
  });

  it('reads what the cache holds in this process without awaiting it, and awaits only the rest', async () => {
    const answers = new FakeAnswersWithPeek()
      .hold('PTR', '1.2.0.192.in-addr.arpa', { rcode: 'NOERROR', answers: [{ type: 'PTR', target: 'held.sender.test.' }] })
      .hold('PTR', '3.2.0.192.in-addr.arpa', new UpstreamFailure())
      .hold('PTR', '4.2.0.192.in-addr.arpa', { rcode: 'NXDOMAIN', answers: [] })
      .ptr('192.0.2.2', 'asked.sender.test')
      .txt('_dmarc.example.test', DMARC);
    const enriched = await enrichChunk(chunk('example.test', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']), enricher(answers));
    expect(enriched.sources).toEqual([
      { ip: '192.0.2.1', ptr: 'held.sender.test', baseDomain: 'sender.test' },
      { ip: '192.0.2.2', ptr: 'asked.sender.test', baseDomain: 'sender.test' },
      { ip: '192.0.2.3', ptr: null, baseDomain: null },
      { ip: '192.0.2.4', ptr: null, baseDomain: null },
    ]);
    expect(answers.peeked).toEqual(['PTR 1.2.0.192.in-addr.arpa', 'PTR 3.2.0.192.in-addr.arpa', 'PTR 4.2.0.192.in-addr.arpa']);
    expect(answers.asked.filter((q) => q.startsWith('PTR'))).toEqual(['PTR 2.2.0.192.in-addr.arpa']);
    // Forward confirmation needs more than the PTR answer: always the awaited path.
    const confirming = await enrichChunk(chunk('example.test', ['192.0.2.1']), enricher(answers, true));
    expect(confirming.sources[0].ptr).toBeNull();
    expect(answers.asked).toContain('PTR 1.2.0.192.in-addr.arpa');
  });

  it('reads what the shared tier holds in one call per thousand names, and looks up only the rest one by one', async () => {
    const answers = new FakeAnswersWithTiers().hold('PTR', '1.2.0.192.in-addr.arpa', { rcode: 'NOERROR', answers: [{ type: 'PTR', target: 'local.sender.test' }] });
    const ips = Array.from({ length: 1500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    for (const ip of ips.slice(0, 1400)) answers.share('PTR', reverse4(ip), { rcode: 'NOERROR', answers: [{ type: 'PTR', target: `h-${ip}.shared.test` }] });
    for (const ip of ips.slice(1400)) answers.ptr(ip, `h-${ip}.asked.test`);
    const enriched = await enrichChunk(chunk('example.test', ['192.0.2.1', ...ips, 'not-an-ip']), enricher(answers));
    expect(enriched.sources).toHaveLength(1502);
    expect(enriched.sources[0]).toEqual({ ip: '192.0.2.1', ptr: 'local.sender.test', baseDomain: 'sender.test' });
    expect(enriched.sources[1]).toEqual({ ip: '10.0.0.0', ptr: 'h-10.0.0.0.shared.test', baseDomain: 'shared.test' });
    expect(enriched.sources[1500]).toEqual({ ip: ips[1499], ptr: `h-${ips[1499]}.asked.test`, baseDomain: 'asked.test' });
    expect(enriched.sources[1501]).toEqual({ ip: 'not-an-ip', ptr: null, baseDomain: null });
    // 1,500 names not held locally: two readMany calls (1,000 + 500); the 100 the tiers lacked asked one by one.
    expect(answers.readManyCalls.map((c) => c.length)).toEqual([1000, 500]);
    expect(answers.asked.filter((q) => q.startsWith('PTR'))).toHaveLength(100);
  });

  it('looks every name up one by one when the shared tier fails', async () => {
    const answers = new FakeAnswersWithTiers().ptr('192.0.2.9', 'x.sender.test');
    answers.failReadMany = true;
    const enriched = await enrichChunk(chunk('example.test', ['192.0.2.9']), enricher(answers));
    expect(enriched.sources[0].ptr).toBe('x.sender.test');
    expect(answers.asked).toContain('PTR 9.2.0.192.in-addr.arpa');
  });

  it('refuses a concurrency below 1', () => {
    expect(() => enricher(new FakeAnswers(), false, 0)).toThrow(RangeError);
  });
});
