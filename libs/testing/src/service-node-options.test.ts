import { serviceNodeOptions } from './spawned-service';

describe('serviceNodeOptions', () => {
  it("reads a service's deployed node options from its package.json, '' where it has none", () => {
    expect(serviceNodeOptions('dns')).toMatch(/^--max-old-space-size=\d+$/);
    expect(serviceNodeOptions('ingestion')).toBe('');
    expect(serviceNodeOptions('no-such-service')).toBe('');
  });
});
