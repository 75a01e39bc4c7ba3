import type { FastifyReply, FastifyRequest } from 'fastify';

/** How long the rest of a refused body is drained after the answer before the connection is cut. */
export const LINGER_MS = 2000;

/**
 * After answering a body we stopped reading (413), drains and discards what the client still sends, for
 * at most `lingerMs`, then cuts the connection. Closing a socket with unread bytes makes the kernel send
 * a TCP reset, which can wipe the 413 from the client's buffers before it reads it (the "lingering
 * close" web servers do); never draining would leave the connection stalled until the server's request
 * timeout. Nothing drained is kept: memory stays flat whatever the client sends.
 */
export function discardUnreadBody(request: FastifyRequest, reply: FastifyReply, lingerMs = LINGER_MS): void {
  const body = request.raw;
  reply.raw.once('finish', () => {
    if (body.readableEnded || body.destroyed) return;
    // Destroying an unfinished request destroys its socket.
    const cut = setTimeout(() => body.destroy(), lingerMs);
    cut.unref();
    const stop = () => clearTimeout(cut);
    body.once('end', stop);
    body.once('close', stop);
    // Whoever read the body so far (our reader, or the multipart parser through a pipe) is done with it.
    body.unpipe();
    body.on('readable', () => {
      while (body.read() !== null);
    });
    body.read(0);
  });
}
