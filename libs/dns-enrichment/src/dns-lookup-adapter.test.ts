import { FakeAnswers } from './__test-support__/fake-answers';
import { UpstreamFailure } from './__test-support__/upstream-failure';
import { dnsLookupOverCache } from './dns-lookup-adapter';

describe('dnsLookupOverCache', () => {
  const answers = new FakeAnswers()
    .txt('example.test', ['v=spf1 include:', 'spf.example.test -all'], 'other')
    .address('A', 'mx.example.test', '192.0.2.1')
    .address('AAAA', 'mx.example.test', '2001:db8::1')
    .set('MX', 'example.test', { rcode: 'NOERROR', answers: [{ type: 'MX', exchange: 'MX.Example.Test.' }] })
    .set('TXT', 'down.test', new UpstreamFailure());
  const lookup = dnsLookupOverCache(answers);

  it('gives each TXT record as one string', async () => {
    expect(await lookup.txt('example.test')).toEqual(['v=spf1 include:spf.example.test -all', 'other']);
  });

  it('gives A and AAAA addresses together, and MX exchanges normalised', async () => {
    expect(await lookup.addresses('mx.example.test')).toEqual(['192.0.2.1', '2001:db8::1']);
    expect(await lookup.mx('example.test')).toEqual(['mx.example.test']);
  });

  it('answers a negative name with an empty list (an SPF void lookup)', async () => {
    expect(await lookup.txt('missing.test')).toEqual([]);
    expect(await lookup.addresses('missing.test')).toEqual([]);
  });

  it('rejects when the upstream failed, so the checker can tell it from "no record"', async () => {
    await expect(lookup.txt('down.test')).rejects.toBeInstanceOf(UpstreamFailure);
  });
});
