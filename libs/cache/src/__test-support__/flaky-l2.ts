// An L2 that can be switched off, standing for an unreachable Redis in unit tests (every call fails while
// down), or held, so a test can act while a call is on its way (hold() returns the release).
import type { CacheL2Driver, L2Budget } from '../l2-driver';

export class FlakyL2 implements CacheL2Driver {
  down = false;
  calls = 0;
  private gate?: Promise<void>;

  constructor(private readonly inner: CacheL2Driver) {}

  get(key: string): Promise<string | null> {
    return this.call(() => this.inner.get(key));
  }

  set(key: string, value: string, ttlMs: number, indexKey: string, budget?: L2Budget): Promise<number> {
    return this.call(() => this.inner.set(key, value, ttlMs, indexKey, budget));
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

  hold(): () => void {
    let release: () => void = () => undefined;
    this.gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    this.calls++;
    const gate = this.gate;
    if (gate) {
      // The value is read once the gate opens, as a reply still in flight would carry what was read before.
      const value = fn();
      await gate;
      return value;
    }
    if (this.down) throw new Error('connect ECONNREFUSED (test)');
    return fn();
  }
}
