import { createServer } from 'node:net';
import { ConnectError } from '../errors';
import { waitForBrokers } from './broker-connection';

// A port nothing listens on: reserve one, then close it.
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('waitForBrokers', () => {
  it('logs one clear line per failed attempt, without stacks, then gives up with a ConnectError', async () => {
    const port = await closedPort();
    const lines: Array<{ fields: Record<string, unknown>; message?: string }> = [];
    const logger = { info() {}, error() {}, warn: (fields: object, message?: string) => void lines.push({ fields: fields as Record<string, unknown>, message }) };
    const brokers = [`127.0.0.1:${port}`];
    const attempt = waitForBrokers({ brokers, clientId: 'test', connectionTimeout: 500 }, { initialMs: 10, maxMs: 20, maxAttempts: 3 }, logger);
    await expect(attempt).rejects.toBeInstanceOf(ConnectError);
    await expect(attempt).rejects.toMatchObject({ code: 'BUS_CONNECT_FAILED', retriable: true, attempts: 3 });
    expect(lines).toHaveLength(2);
    lines.forEach((line, i) => {
      expect(line.message).toMatch(new RegExp(`^kafka unreachable at 127\\.0\\.0\\.1:${port} \\(attempt ${i + 1}\\), retrying in \\d+ ms: .*ECONNREFUSED`));
      expect(line.message).not.toContain('\n');
      expect(line.fields).toMatchObject({ brokers: `127.0.0.1:${port}`, attempt: i + 1 });
    });
  });

  it('stops waiting when its signal aborts', async () => {
    const port = await closedPort();
    const abort = new AbortController();
    const attempt = waitForBrokers({ brokers: [`127.0.0.1:${port}`], clientId: 'test' }, { initialMs: 60_000 }, { info() {}, warn: () => abort.abort(), error() {} }, abort.signal);
    await expect(attempt).rejects.toMatchObject({ code: 'BUS_CLOSED' });
  });
});
