// Forgetting an answer this process holds when its shared key is announced dropped elsewhere.
import { harness } from './__test-support__/harness';
import { settle } from './__test-support__/manual-clock';
import { parseSharedKey, sharedKey } from './dns-name';
import { forgetAnnouncedKeys } from './forget-announced';

describe('forget and announced drops', () => {
  it('parses shared keys back to their question, and nothing else', () => {
    expect(parseSharedKey(sharedKey('TXT', '_dmarc.example.com'))).toEqual({ type: 'TXT', name: '_dmarc.example.com' });
    expect(parseSharedKey(sharedKey('PTR', '1.2.0.192.in-addr.arpa'))).toEqual({ type: 'PTR', name: '1.2.0.192.in-addr.arpa' });
    for (const other of ['tenant:t1:dashboard:example.com', 'global:dns:txt', 'global:dns:zzz:example.com', 'global:dns:txt:a.com%3a%2a', 'global:dns:txt:EXAMPLE.com', 'global:dns:txt:a:b']) {
      expect(parseSharedKey(other)).toBeUndefined();
    }
  });

  it('forget drops this process’s copy: the next read comes from L2, not L1', async () => {
    const h = harness();
    h.upstream.txt('_dmarc.forget.example', 'v=DMARC1; p=none', 300);
    await h.cache.resolve('_dmarc.forget.example', 'TXT');
    await settle();
    expect(h.cache.peek('_dmarc.forget.example', 'TXT')).toMatchObject({ source: 'l1' });
    expect(h.cache.forget('_dmarc.FORGET.example.', 'TXT')).toBe(true);
    expect(h.cache.peek('_dmarc.forget.example', 'TXT')).toBeUndefined();
    await expect(h.cache.resolve('_dmarc.forget.example', 'TXT')).resolves.toMatchObject({ source: 'l2' });
    expect(h.cache.forget('never.example', 'TXT')).toBe(false);
  });

  it('forgetAnnouncedKeys forgets the DNS keys of each announcement and ignores other schemes', async () => {
    const h = harness();
    h.upstream.txt('_dmarc.a.example', 'v=DMARC1; p=none', 300);
    h.upstream.txt('_dmarc.b.example', 'v=DMARC1; p=reject', 300);
    for (const n of ['_dmarc.a.example', '_dmarc.b.example']) await h.cache.resolve(n, 'TXT');
    await settle();
    let deliver: (keys: readonly string[]) => void = () => undefined;
    let unsubscribed = false;
    const stop = forgetAnnouncedKeys(h.cache, (onKeys) => {
      deliver = onKeys;
      return () => void (unsubscribed = true);
    });
    deliver(['tenant:t1:dashboard:a.example', sharedKey('TXT', '_dmarc.a.example'), 'global:dns:txt:not%20valid']);
    expect(h.cache.peek('_dmarc.a.example', 'TXT')).toBeUndefined();
    expect(h.cache.peek('_dmarc.b.example', 'TXT')).toMatchObject({ source: 'l1' });
    stop();
    expect(unsubscribed).toBe(true);
  });
});
