// An L2 that can be switched off, standing for an unreachable Redis in unit tests: every call fails while down.
import type { CacheL2Driver } from '../l2-driver';

export class FlakyL2 implements CacheL2Driver {
  down = false;
  calls = 0;

  constructor(private readonly inner: CacheL2Driver) {}

  get(key: string): Promise<string | null> {
    return this.call(() => this.inner.get(key));
  }

  set(key: string, value: string, ttlMs: number, indexKey: string): Promise<void> {
    return this.call(() => this.inner.set(key, value, ttlMs, indexKey));
  }

  delete(keys: readonly string[]): Promise<number> {
    return this.call(() => this.inner.delete(keys));
  }

  deleteIndexed(indexKey: string): Promise<number> {
    return this.call(() => this.inner.deleteIndexed(indexKey));
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    this.calls++;
    if (this.down) throw new Error('connect ECONNREFUSED (test)');
    return fn();
  }
}
