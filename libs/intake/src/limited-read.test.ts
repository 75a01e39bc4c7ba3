import { createHash } from 'node:crypto';
import { readWithinLimit } from './limited-read';

// A source that counts how many chunks were pulled, to show reading stops.
function source(chunks: Buffer[]) {
  const state = { pulled: 0, returned: false };
  const iterable: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => (state.pulled < chunks.length ? { done: false, value: chunks[state.pulled++] } : { done: true, value: undefined }),
      return: async () => {
        state.returned = true;
        return { done: true, value: undefined };
      },
    }),
  };
  return { iterable, state };
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('readWithinLimit', () => {
  it('returns the whole body when it fits, the limit included', async () => {
    const { iterable } = source([Buffer.from('abc'), Buffer.from('defg')]);
    expect(await readWithinLimit(iterable, { maxBytes: 7, headBytes: 2 })).toEqual({ complete: true, bytes: Buffer.from('abcdefg') });
  });

  it('stops at the chunk that crosses the limit and keeps only the head', async () => {
    const chunks = [Buffer.from('aaaa'), Buffer.from('bbbb'), Buffer.from('cccc'), Buffer.from('dddd')];
    const { iterable, state } = source(chunks);
    const r = await readWithinLimit(iterable, { maxBytes: 6, headBytes: 5 });
    expect(r).toEqual({ complete: false, head: Buffer.from('aaaab'), bytesRead: 8, sha256: sha(Buffer.from('aaaabbbb')), declaredBytes: undefined });
    expect(state.pulled).toBe(2);
    // Left unfinished, not destroyed: the HTTP caller still answers on the same socket.
    expect(state.returned).toBe(false);
  });

  it('reads only the head of a body announced as too large', async () => {
    const { iterable, state } = source([Buffer.from('12345'), Buffer.from('67890'), Buffer.from('more')]);
    const r = await readWithinLimit(iterable, { maxBytes: 100, headBytes: 6, declaredBytes: 5_000_000_000 });
    expect(r).toMatchObject({ complete: false, head: Buffer.from('123456'), bytesRead: 10, declaredBytes: 5_000_000_000 });
    expect(state.pulled).toBe(2);
  });

  it('refuses a body announced as too large even when less arrived', async () => {
    const { iterable } = source([Buffer.from('12')]);
    expect(await readWithinLimit(iterable, { maxBytes: 1, headBytes: 6, declaredBytes: 3 })).toMatchObject({ complete: false, head: Buffer.from('12'), bytesRead: 2 });
  });

  it('reads an empty body as complete and empty', async () => {
    const { iterable } = source([]);
    expect(await readWithinLimit(iterable, { maxBytes: 1, headBytes: 1 })).toEqual({ complete: true, bytes: Buffer.alloc(0) });
  });
});
