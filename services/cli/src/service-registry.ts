import { aggregationService } from '@dmarc/aggregation';
import { dnsService } from '@dmarc/dns';
import { ingestionService } from '@dmarc/ingestion';
import { parsingService } from '@dmarc/parsing';
import type { ServiceModule } from '@dmarc/service-runtime';

/**
 * Every deployable service, by the name `dmarc serve NAME` takes. Services not built yet say which
 * issue brings them.
 */
export const SERVICES: Record<string, ServiceModule | { pending: string }> = {
  ingestion: ingestionService as unknown as ServiceModule,
  parsing: parsingService as unknown as ServiceModule,
  dns: dnsService as unknown as ServiceModule,
  aggregation: aggregationService as unknown as ServiceModule,
  'cache-invalidator': { pending: 'the cache-invalidation consumer (issue 6)' },
  api: { pending: 'the tenant API (issue 6)' },
};
