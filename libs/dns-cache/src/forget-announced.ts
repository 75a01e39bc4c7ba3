import type { DnsCache } from './dns-cache';
import { parseSharedKey } from './dns-name';

/**
 * Keeps a process's DNS answers in step with drops announced elsewhere: every announced key of the shared
 * tier's scheme (`global:dns:{type}:{name}`) is forgotten from this cache's L1; keys of other schemes are
 * ignored. `subscribe` is the transport (the cache invalidation broadcast, wired by the service); returns its
 * unsubscribe.
 */
export function forgetAnnouncedKeys(cache: DnsCache, subscribe: (onKeys: (keys: readonly string[]) => void) => () => void): () => void {
  return subscribe((keys) => {
    for (const key of keys) {
      const question = parseSharedKey(key);
      if (question) cache.forget(question.name, question.type);
    }
  });
}
