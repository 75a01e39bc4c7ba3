import { chunk } from './__test-support__/fake-answers';
import { dkimSelectorsSeen } from './dkim-selectors';

describe('dkimSelectorsSeen', () => {
  it('gathers the selectors per tenant and signing domain, once each, normalised', () => {
    const a = chunk('example.test', ['192.0.2.1', '192.0.2.2']);
    a.records[0].dkim = [
      { domain: 'Example.Test.', selector: 'S1', result: 'pass' },
      { domain: 'esp.test', selector: 'k1', result: 'fail' },
    ];
    a.records[1].dkim = [
      { domain: 'example.test', selector: 's1', result: 'pass' },
      { domain: 'example.test', selector: 's2', result: 'pass' },
      { domain: 'example.test', selector: null, result: 'none' },
      { domain: '', selector: 'x', result: 'none' },
    ];
    const b = { ...chunk('example.test', ['192.0.2.3']), tenantId: 't2' };
    b.records[0].dkim = [{ domain: 'example.test', selector: 's1', result: 'pass' }];
    expect(dkimSelectorsSeen([a, b])).toEqual([
      { tenantId: 't1', domain: 'example.test', selectors: ['s1', 's2'] },
      { tenantId: 't1', domain: 'esp.test', selectors: ['k1'] },
      { tenantId: 't2', domain: 'example.test', selectors: ['s1'] },
    ]);
  });
});
