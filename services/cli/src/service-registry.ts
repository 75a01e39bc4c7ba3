import { aggregationService } from '@dmarc/aggregation';
import { apiService } from '@dmarc/api';
import { cacheInvalidatorService } from '@dmarc/cache-invalidator';
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
  'cache-invalidator': cacheInvalidatorService as unknown as ServiceModule,
  api: apiService as unknown as ServiceModule,
};
