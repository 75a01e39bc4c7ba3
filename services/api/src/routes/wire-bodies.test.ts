import { WireBodies } from './wire-bodies';

const textOf = (n: number, fill: string) => JSON.stringify({ sources: fill.repeat(n) });

describe('WireBodies', () => {
  it('sends a large text as its UTF-8 bytes, the same Buffer on every send while kept', () => {
    const wire = new WireBodies(1024 * 1024, 1024);
    const text = textOf(5000, 'é€a');
    const first = wire.bodyOf(text);
    expect(Buffer.isBuffer(first)).toBe(true);
    expect((first as Buffer).equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(wire.bodyOf(text)).toBe(first);
    // An equal text built apart (a refresh that found the same figures) gets the same bytes.
    expect(wire.bodyOf(textOf(5000, 'é€a'))).toBe(first);
  });

  it('sends a small text as it is and keeps nothing for it', () => {
    const wire = new WireBodies(1024 * 1024, 1024);
    const text = textOf(10, 'a');
    expect(wire.bodyOf(text)).toBe(text);
    expect(wire.size.entries).toBe(0);
  });

  it('never answers one text with another’s bytes', () => {
    const wire = new WireBodies(1024 * 1024, 16);
    const a = textOf(100, 'a');
    const b = textOf(100, 'b');
    expect((wire.bodyOf(a) as Buffer).toString('utf8')).toBe(a);
    expect((wire.bodyOf(b) as Buffer).toString('utf8')).toBe(b);
    expect((wire.bodyOf(a) as Buffer).toString('utf8')).toBe(a);
  });

  it('keeps at most maxBytes, dropping the least recently sent first', () => {
    const a = textOf(1000, 'a');
    const b = textOf(1000, 'b');
    const c = textOf(1000, 'c');
    // Room for two texts with their bytes, not three.
    const wire = new WireBodies(2 * 2 * a.length + 10, 16);
    const bodyA = wire.bodyOf(a);
    const bodyB = wire.bodyOf(b);
    expect(wire.bodyOf(a)).toBe(bodyA); // a is now the most recent
    wire.bodyOf(c); // b goes
    expect(wire.size.entries).toBe(2);
    expect(wire.size.bytes).toBeLessThanOrEqual(2 * 2 * a.length + 10);
    expect(wire.bodyOf(a)).toBe(bodyA);
    const bodyB2 = wire.bodyOf(b);
    expect(bodyB2).not.toBe(bodyB);
    expect((bodyB2 as Buffer).equals(bodyB as Buffer)).toBe(true);
  });

  it('sends a text larger than the whole budget without keeping it', () => {
    const wire = new WireBodies(100, 16);
    const text = textOf(200, 'x');
    expect((wire.bodyOf(text) as Buffer).toString('utf8')).toBe(text);
    expect(wire.size).toEqual({ entries: 0, bytes: 0 });
  });
});
