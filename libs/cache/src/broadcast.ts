// How every process's L1 learns of an invalidation (ARCHITECTURE: "tells every process's in-memory tier").
// One interface, two drivers: Redis pub/sub between processes, and an in-process hub for tests and the
// embedded pipeline. The connection state matters as much as the messages: while a subscriber is away it
// misses invalidations, so the cache stops trusting its L1 until it is back (see tiered-cache.ts).

export interface InvalidationMessage {
  /** The publishing cache: it has already applied the message to its own L1. */
  readonly origin: string;
  /** Exact keys to drop. */
  readonly keys?: readonly string[];
  /** Group bases (see cache-key.ts groupBase): drop every key of the group. */
  readonly groups?: readonly string[];
  /** Group bases whose entries are stale from now on: served while refreshed (TieredCache.refreshGroup). */
  readonly staleGroups?: readonly string[];
}

export interface BroadcastListener {
  onMessage(message: InvalidationMessage): void;
  /** The subscription is (again) live: messages from now on arrive. */
  onConnected?(): void;
  /** The subscription is down: messages from now on may be missed. */
  onDisconnected?(): void;
}

export interface InvalidationBroadcast {
  publish(message: InvalidationMessage): Promise<void>;
  subscribe(listener: BroadcastListener): () => void;
  /** Whether messages published now reach this process. */
  isConnected(): boolean;
  close(): Promise<void>;
}

/** Parses a message from the wire; anything malformed is ignored (undefined), never thrown at the subscriber. */
export function parseMessage(raw: string): InvalidationMessage | undefined {
  try {
    const m = JSON.parse(raw) as { origin?: unknown; keys?: unknown; groups?: unknown; staleGroups?: unknown };
    if (typeof m !== 'object' || m === null || typeof m.origin !== 'string') return undefined;
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (m.keys !== undefined && !strings(m.keys)) return undefined;
    if (m.groups !== undefined && !strings(m.groups)) return undefined;
    if (m.staleGroups !== undefined && !strings(m.staleGroups)) return undefined;
    return {
      origin: m.origin,
      keys: m.keys as string[] | undefined,
      groups: m.groups as string[] | undefined,
      ...(m.staleGroups !== undefined ? { staleGroups: m.staleGroups as string[] } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Delivers to every cache subscribed to this same instance. disconnect() / reconnect() stand for a lost
 * subscriber connection: publishes fail and nothing is delivered until reconnect().
 */
export class InProcessBroadcast implements InvalidationBroadcast {
  private readonly listeners = new Set<BroadcastListener>();
  private connected = true;

  async publish(message: InvalidationMessage): Promise<void> {
    if (!this.connected) throw new Error('in-process broadcast is disconnected');
    // A copy per delivery, as over the wire: a listener cannot change what the next one sees.
    const wire = JSON.stringify(message);
    for (const listener of [...this.listeners]) {
      const copy = parseMessage(wire);
      if (copy) listener.onMessage(copy);
    }
  }

  subscribe(listener: BroadcastListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  isConnected(): boolean {
    return this.connected;
  }

  disconnect(): void {
    if (!this.connected) return;
    this.connected = false;
    for (const listener of [...this.listeners]) listener.onDisconnected?.();
  }

  reconnect(): void {
    if (this.connected) return;
    this.connected = true;
    for (const listener of [...this.listeners]) listener.onConnected?.();
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
