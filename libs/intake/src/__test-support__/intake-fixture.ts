import { createInProcessBus, type Bus, type Delivered } from '@dmarc/bus';
import { loadContracts } from '@dmarc/contracts';
import type { Store } from '@dmarc/store';

export interface IntakeFixture {
  readonly store: Store;
  readonly bus: Bus;
  /** Everything that reached dmarc.reports.received, in arrival order. */
  readonly received: Array<Delivered<'dmarc.reports.received'>>;
}

/** For the enclosing describe block: the store `open` gives, an in-process bus, and what it delivers on dmarc.reports.received. */
export function intakeFixture(open: () => Promise<Store>): IntakeFixture {
  const fixture = { received: [] as Array<Delivered<'dmarc.reports.received'>> } as { store: Store; bus: Bus; received: Array<Delivered<'dmarc.reports.received'>> };
  beforeAll(async () => {
    fixture.store = await open();
    fixture.bus = createInProcessBus({ contracts: loadContracts() });
    await fixture.bus.consume({
      groupId: 'test',
      topics: ['dmarc.reports.received'],
      handler: async (m) => void fixture.received.push(m as Delivered<'dmarc.reports.received'>),
    });
    // PGlite and the migrations take several seconds on a busy machine.
  }, 60_000);
  afterAll(async () => {
    await fixture.bus?.close();
    await fixture.store?.close();
  });
  return fixture;
}
