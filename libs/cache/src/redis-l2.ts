// L2 on Redis (ioredis; the client is passed in, CONVENTIONS §8). Writes and group deletes are Lua scripts,
// so an entry and its index entry are written together and a group goes in one round trip with no KEYS.
import type { Redis } from 'ioredis';
import type { CacheL2Driver } from './l2-driver';

// Store, index, and make the index outlive its newest member (never shorten it: older members may live longer).
const SET_INDEXED = `redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('sadd', KEYS[2], KEYS[1])
if redis.call('pttl', KEYS[2]) < tonumber(ARGV[2]) then redis.call('pexpire', KEYS[2], ARGV[2]) end
return 1`;

// Delete the members in slices (unpack has a stack limit), then the index; count what really existed.
const DELETE_INDEXED = `local members = redis.call('smembers', KEYS[1])
local n = 0
for i = 1, #members, 500 do
  n = n + redis.call('del', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('del', KEYS[1])
return n`;

// Compare-and-delete.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class RedisCacheL2 implements CacheL2Driver {
  /** `onClose`: what close() does (the connection's close when this driver owns it; nothing by default). */
  constructor(
    private readonly redis: Redis,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {}

  get(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  async set(key: string, value: string, ttlMs: number, indexKey: string): Promise<void> {
    await this.redis.eval(SET_INDEXED, 2, key, indexKey, value, Math.max(1, Math.ceil(ttlMs)));
  }

  async delete(keys: readonly string[]): Promise<number> {
    return keys.length === 0 ? 0 : this.redis.del(...keys);
  }

  async deleteIndexed(indexKey: string): Promise<number> {
    return (await this.redis.eval(DELETE_INDEXED, 1, indexKey)) as number;
  }

  async acquireLease(leaseKey: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(leaseKey, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
  }

  async releaseLease(leaseKey: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, leaseKey, token);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
