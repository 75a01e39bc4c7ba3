import { migratedStoreWithTenants } from './__test-support__/migrated-store';
import { describeAcceptMany } from './__test-support__/accept-many-suite';

describeAcceptMany('PGlite', async () => (await migratedStoreWithTenants()).store);
