// L2 on Redis (ioredis; the client is passed in, CONVENTIONS §8). Writes and group deletes are Lua scripts,
// so an entry and its index entry are written together and a group goes in one round trip with no KEYS.
import type { Redis } from 'ioredis';
import { budgetKeys, entryL2Bytes, type CacheL2Driver, type L2Budget } from './l2-driver';

// Store, index, and make the index outlive its newest member (never shorten it: older members may live longer).
// With a budget (KEYS 3-5: the partition's write order, sizes and total), account the entry and evict the
// partition's least recently written entries while it is over (never the one just written; `~seq` in the sizes
// hash orders the writes). Deleted or expired
// members are still counted until they are popped: the partition's own oldest go first, so that over-count can
// only take its own entries early, never another's. The accounting keys outlive the longest TTL (24 h).
// The evicted keys are not in KEYS: a single Redis, not a cluster, is what this runs on.
const SET_INDEXED = `redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('sadd', KEYS[2], KEYS[1])
if redis.call('pttl', KEYS[2]) < tonumber(ARGV[2]) then redis.call('pexpire', KEYS[2], ARGV[2]) end
if #KEYS < 5 then return 0 end
local bytes = tonumber(ARGV[3])
local old = tonumber(redis.call('hget', KEYS[4], KEYS[1]) or '0')
local total = redis.call('incrby', KEYS[5], bytes - old)
redis.call('hset', KEYS[4], KEYS[1], bytes)
-- A write sequence, not the clock: writes in one millisecond must still keep their order (ties would go by name).
redis.call('zadd', KEYS[3], redis.call('hincrby', KEYS[4], '~seq', 1), KEYS[1])
local evicted = 0
while total > tonumber(ARGV[4]) do
  local oldest = redis.call('zrange', KEYS[3], 0, 0)[1]
  if not oldest or oldest == KEYS[1] then break end
  local size = tonumber(redis.call('hget', KEYS[4], oldest) or '0')
  redis.call('del', oldest)
  redis.call('zrem', KEYS[3], oldest)
  redis.call('hdel', KEYS[4], oldest)
  total = redis.call('decrby', KEYS[5], size)
  evicted = evicted + 1
end
for i = 3, 5 do redis.call('pexpire', KEYS[i], 86400000) end
return evicted`;

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

  async set(key: string, value: string, ttlMs: number, indexKey: string, budget?: L2Budget): Promise<number> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    if (!budget) return (await this.redis.eval(SET_INDEXED, 2, key, indexKey, value, ttl)) as number;
    const b = budgetKeys(budget.accountKey);
    return (await this.redis.eval(SET_INDEXED, 5, key, indexKey, b.order, b.sizes, b.total, value, ttl, entryL2Bytes(key, value), budget.maxBytes)) as number;
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
