/**
 * Large cached JSON texts kept as the UTF-8 bytes the socket is sent, so a hit writes them as they are. Sending
 * a 200 KB string (a sources list) encodes it again on every read, in a fresh buffer outside the heap each time:
 * in bench:cache that was ~5 % of an API process's CPU and an allocation rate that kept the scavenger running
 * ~2 times a second, each pause stretched to 10-55 ms while the process waited for a core. Keyed by the text
 * itself (a hit on a cached entry is the same string object, whose hash V8 keeps), so the bytes can never
 * belong to another text; least recently sent first out beyond `maxBytes`. Texts under `minBytes` are sent as
 * strings: Node writes those through a stack buffer, nothing to save.
 */
export class WireBodies {
  private readonly bodies = new Map<string, Buffer>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = 32 * 1024 * 1024,
    private readonly minBytes = 16 * 1024,
  ) {}

  /** The text to send: its bytes when it is large (the same Buffer each time while kept), else the text. */
  bodyOf(text: string): string | Buffer {
    if (text.length < this.minBytes) return text;
    const kept = this.bodies.get(text);
    if (kept) {
      // Most recently sent last: eviction takes from the front.
      this.bodies.delete(text);
      this.bodies.set(text, kept);
      return kept;
    }
    const body = Buffer.from(text, 'utf8');
    const cost = costOf(text, body);
    if (cost > this.maxBytes) return body;
    this.bodies.set(text, body);
    this.bytes += cost;
    for (const [oldest, oldBody] of this.bodies) {
      if (this.bytes <= this.maxBytes) break;
      this.bodies.delete(oldest);
      this.bytes -= costOf(oldest, oldBody);
    }
    return body;
  }

  /** Texts kept and the bytes they hold (text and encoding). */
  get size(): { entries: number; bytes: number } {
    return { entries: this.bodies.size, bytes: this.bytes };
  }
}

/** What keeping a text costs: the text (kept alive by the key) and its bytes. */
const costOf = (text: string, body: Buffer) => text.length + body.length;
