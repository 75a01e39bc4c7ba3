import { int } from '@dmarc/config';
import { defineService, launch } from './index';

const probe = defineService({
  name: 'probe',
  config: { BATCH_SIZE: int({ min: 1, default: 10 }) },
  create: (config) => ({
    name: 'probe',
    setup(ctx) {
      ctx.http.get('/batch', async () => ({ batch: config.BATCH_SIZE, port: config.PORT }));
    },
  }),
});

describe('launch', () => {
  it('refuses a wrong or missing variable with one line naming it, before starting anything', async () => {
    const result = await launch(probe, { PORT: 'abc', BATCH_SIZE: '0' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.exitCode).toBe(78);
    expect(result.message.split('\n')).toHaveLength(1);
    expect(result.message).toMatch(/^probe: configuration: /);
    expect(result.message).toContain('PORT');
    expect(result.message).toContain('"abc"');
    expect(result.message).toContain('BATCH_SIZE');
    expect(result.message).toContain('DATABASE_URL');
  });

  it('starts the service with its resolved configuration', async () => {
    const result = await launch(probe, { PORT: '18080', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db', LOG_LEVEL: 'silent', BATCH_SIZE: '7' }, { port: 0 });
    if (!result.ok) throw new Error(result.message);
    try {
      const res = await fetch(`http://127.0.0.1:${result.service.port}/batch`);
      expect(await res.json()).toEqual({ batch: 7, port: 18080 });
    } finally {
      await result.service.stop();
    }
  });
});
